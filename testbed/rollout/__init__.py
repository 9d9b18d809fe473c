"""Playing episodes: one episode, teams, building envs and agents from a scenario, executors."""
