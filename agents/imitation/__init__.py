"""Imitation learning: learners that copy a demonstrator (datasets or an expert online)."""
