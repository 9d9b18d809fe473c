"""`kind: evaluate`: episodes of a team, summarised with confidence intervals."""
