"""`kind: population`: a focal population against background bots (Melting Pot protocol)."""
