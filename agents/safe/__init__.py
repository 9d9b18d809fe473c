"""Safe RL: Lagrange multipliers, PPO-Lagrangian and action shields."""
