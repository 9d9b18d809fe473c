"""Off-policy actor-critic learners for continuous (1-D Box) action spaces: DDPG, TD3, SAC."""
