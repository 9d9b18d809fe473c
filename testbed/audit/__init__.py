"""`kind: audit`: safety verdicts (exact bounds, sequential tests) and their reports."""
