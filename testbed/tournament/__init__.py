"""`kind: tournament`: schedules, fault-isolated games, ratings, the leaderboard store."""
