"""Scenario files: YAML with source positions, `--set` overrides, the shared schema, references."""
