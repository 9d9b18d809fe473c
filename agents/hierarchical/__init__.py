"""Hierarchical learners: options and goal hierarchies acting at several time scales."""
