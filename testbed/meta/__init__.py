"""Meta-learning in scenarios: task distributions (`tasks:`), `kind: meta_train`, and
adaptation in evaluate stages (`adapt:`)."""
