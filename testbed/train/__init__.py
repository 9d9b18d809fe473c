"""`kind: train`: training loops, the train stage, self-play, curves and checkpoints."""
