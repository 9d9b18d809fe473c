"""Model-based learners: a learned model of the env plans or generates experience."""
