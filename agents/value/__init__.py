"""Value-based learners: tabular Q-learning, DQN (double, dueling, n-step) and C51."""
