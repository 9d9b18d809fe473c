"""Meta-learning: MAML, Reptile and the jointly pretrained baseline, on task distributions."""
