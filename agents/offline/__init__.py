"""Offline RL: learners that learn a policy from a fixed dataset of transitions."""
