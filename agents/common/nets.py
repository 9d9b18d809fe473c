"""Small torch building blocks: MLPs, orthogonal init, deterministic CPU settings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import nn


def mlp(
    in_dim: int,
    out_dim: int,
    hidden: Sequence[int] = (64, 64),
    activation: type[nn.Module] = nn.Tanh,
    out_gain: float | None = None,
) -> nn.Sequential:
    """in -> hidden... -> out. With `out_gain`, layers get orthogonal init (sqrt 2 hidden,
    `out_gain` for the last layer) and zero biases, as PPO-style implementations do."""
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [nn.Linear(last, width), activation()]
        last = width
    layers.append(nn.Linear(last, out_dim))
    net = nn.Sequential(*layers)
    if out_gain is not None:
        linears = [m for m in net if isinstance(m, nn.Linear)]
        for layer in linears[:-1]:
            nn.init.orthogonal_(layer.weight, np.sqrt(2))
            nn.init.zeros_(layer.bias)
        nn.init.orthogonal_(linears[-1].weight, out_gain)
        nn.init.zeros_(linears[-1].bias)
    return net


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target <- tau * source + (1 - tau) * target (Polyak averaging)."""
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters(), strict=True):
            t.mul_(1.0 - tau).add_(s, alpha=tau)


def as_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32))


def adam(params: Iterable[torch.Tensor], lr: float, eps: float = 1e-8) -> torch.optim.Adam:
    """Adam with the fused CPU kernel: one kernel for every parameter (about 20 % faster per
    minibatch step than the foreach one on small MLPs; bit-reproducible for a seed)."""
    return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)


def deterministic_torch(seed: int) -> None:
    """Seed torch's global RNG and make CPU training bit-reproducible for that seed."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
