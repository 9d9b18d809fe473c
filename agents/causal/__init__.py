"""Causal learners: structure learned from the agent's own interventions decides what a
policy may condition on."""
