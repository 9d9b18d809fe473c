"""Uniform random policy over any gymnasium space, honouring legal-action masks.

The usual floor of every leaderboard. All randomness comes from the seed given to `reset`, so an
episode's actions depend only on that episode's seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces


@dataclass(frozen=True)
class RandomConfig:
    """Parameters of the random policy."""

    seed: int | None = None
    """Fallback seed when `reset` is called without one."""


def sample(space: spaces.Space, rng: np.random.Generator, mask: np.ndarray | None = None) -> Any:
    """Draw uniformly from `space` with `rng`; for Discrete, only where `mask` is nonzero."""
    if isinstance(space, spaces.Discrete):
        if mask is not None:
            legal = np.flatnonzero(mask)
            if legal.size == 0:
                raise ValueError("action mask allows no action")
            return np.int64(space.start + legal[rng.integers(legal.size)])
        return np.int64(space.start + rng.integers(space.n))
    if isinstance(space, spaces.Box):
        low = np.where(np.isfinite(space.low), space.low, -1.0)
        high = np.where(np.isfinite(space.high), space.high, 1.0)
        if np.issubdtype(space.dtype, np.integer):
            return rng.integers(low, high + 1, size=space.shape).astype(space.dtype)
        return rng.uniform(low, high, size=space.shape).astype(space.dtype)
    if isinstance(space, spaces.MultiDiscrete):
        return (space.start + (rng.random(space.shape) * space.nvec).astype(np.int64)).astype(
            space.dtype
        )
    if isinstance(space, spaces.MultiBinary):
        return rng.integers(0, 2, size=space.shape).astype(space.dtype)
    if isinstance(space, spaces.Tuple):
        return tuple(sample(s, rng) for s in space.spaces)
    if isinstance(space, spaces.Dict):
        return {key: sample(s, rng) for key, s in space.spaces.items()}
    raise TypeError(f"random policy cannot sample from {space!r}")


class RandomPolicy:
    """Acts uniformly at random; legal actions only when a mask is given."""

    Config = RandomConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: RandomConfig | None = None,
    ):
        self.config = config or RandomConfig()
        self.action_space = action_space
        sample(action_space, np.random.default_rng(0))  # fail at build time on unknown spaces
        self.rng = np.random.default_rng(self.config.seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(self.config.seed if seed is None else seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        return sample(self.action_space, self.rng, action_mask)
