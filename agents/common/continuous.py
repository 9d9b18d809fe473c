"""Pieces the continuous-control learners (DDPG, TD3, SAC) share.

Actors work in the unit box [-1, 1]^d; `ActionScaler` maps to and from the env's bounds, so
the replay buffer stores unit actions and the networks never see the env's units.
Exploration noise draws from torch's global RNG, so a seeded run is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from testbed.agents.common.nets import mlp
from testbed.agents.common.replay import ReplayBuffer
from testbed.agents.common.spaces import obs_dim, require_box, to_vector


class ActionScaler:
    """Maps unit actions in [-1, 1]^d to a bounded Box and back."""

    def __init__(self, space: spaces.Box, algorithm: str):
        require_box(space, algorithm)
        self.dim = int(space.shape[0])
        self.low = space.low.astype(np.float64)
        self.high = space.high.astype(np.float64)
        self.dtype = space.dtype

    def to_env(self, unit: np.ndarray) -> np.ndarray:
        """low + (u + 1) / 2 * (high - low), with u clipped to [-1, 1]."""
        u = np.clip(np.asarray(unit, np.float64).reshape(self.dim), -1.0, 1.0)
        action = self.low + 0.5 * (u + 1.0) * (self.high - self.low)
        return np.clip(action, self.low, self.high).astype(self.dtype)

    def to_unit(self, action: np.ndarray) -> np.ndarray:
        """The inverse of `to_env` (what the replay buffer stores)."""
        a = np.asarray(action, np.float64).reshape(self.dim)
        return np.clip(2.0 * (a - self.low) / (self.high - self.low) - 1.0, -1.0, 1.0).astype(
            np.float32
        )


def deterministic_actor(in_dim: int, act_dim: int, hidden: Sequence[int]) -> nn.Sequential:
    """mu(s) in [-1, 1]^d: a ReLU MLP with a tanh output (DDPG / TD3)."""
    return nn.Sequential(*mlp(in_dim, act_dim, hidden, nn.ReLU), nn.Tanh())


class QCritic(nn.Module):
    """Q(s, a): a ReLU MLP over the concatenated state and unit action, one value per row."""

    def __init__(self, in_dim: int, act_dim: int, hidden: Sequence[int]):
        super().__init__()
        self.net = mlp(in_dim + act_dim, 1, hidden, nn.ReLU)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, action], dim=-1)).squeeze(-1)


class ExplorationNoise:
    """Additive action noise in unit-action space: Gaussian N(0, sigma^2), or
    Ornstein-Uhlenbeck x <- x + theta (0 - x) + sigma N(0, 1) (reset every episode)."""

    def __init__(self, dim: int, sigma: float, kind: str = "normal", theta: float = 0.15):
        if kind not in ("normal", "ou"):
            raise ValueError(f"noise_type must be 'normal' or 'ou', got {kind!r}")
        self.dim, self.sigma, self.kind, self.theta = dim, sigma, kind, theta
        self.state = torch.zeros(dim)

    def reset(self) -> None:
        self.state = torch.zeros(self.dim)

    def __call__(self) -> torch.Tensor:
        gaussian = self.sigma * torch.randn(self.dim)
        if self.kind == "normal":
            return gaussian
        self.state = self.state - self.theta * self.state + gaussian
        return self.state


def replay_for(observation_space: spaces.Space, act_dim: int, capacity: int) -> ReplayBuffer:
    """A replay buffer of flat observations and unit actions (costs included)."""
    return ReplayBuffer(capacity, obs_dim(observation_space), (act_dim,), np.float32)


def store(
    buffer: ReplayBuffer,
    observation_space: spaces.Space,
    scaler: ActionScaler,
    transition: dict[str, Any],
) -> None:
    """Add one harness transition; done = terminated only (truncation still bootstraps)."""
    buffer.add(
        to_vector(observation_space, transition["obs"]),
        scaler.to_unit(transition["action"]),
        float(transition["reward"]),
        float(transition.get("cost", 0.0)),
        to_vector(observation_space, transition["next_obs"]),
        bool(transition["terminated"]),
    )


@contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Within the block, no gradients are kept for these modules' parameters (the actor loss
    backpropagates through the critics without computing their weight gradients)."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


def uniform_unit_action(dim: int) -> torch.Tensor:
    """U(-1, 1)^d from torch's global RNG (the warm-up policy before learning starts)."""
    return 2.0 * torch.rand(dim) - 1.0


__all__ = [
    "ActionScaler",
    "ExplorationNoise",
    "QCritic",
    "deterministic_actor",
    "frozen",
    "replay_for",
    "store",
    "uniform_unit_action",
]
