"""Policy-gradient learners: REINFORCE, A2C and PPO (discrete and continuous actions)."""
