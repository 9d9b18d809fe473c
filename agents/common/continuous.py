"""Pieces the continuous-control learners (DDPG, TD3, SAC) share.

Actors work in the unit box [-1, 1]^d; `ActionScaler` maps to and from the env's bounds, so
the replay buffer stores unit actions and the networks never see the env's units.
Exploration noise draws from torch's global RNG, so a seeded run is reproducible.

Vectorized training (N env copies) uses the batched helpers: `to_env_batch` / `to_unit_batch`,
`ExplorationNoise.batch` (one OU state per copy), `warmup_or` (row i of a vector step is env
step t + i: uniform while before `learning_starts`), `store_batch` and `due_updates` (the
update steps among the N env steps just observed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from testbed.agents.common.her import HindsightRelabeller
from testbed.agents.common.nets import mlp
from testbed.agents.common.replay import ReplayBuffer
from testbed.agents.common.spaces import obs_dim, require_box, to_vector, to_vectors


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

    def to_env_batch(self, units: np.ndarray) -> np.ndarray:
        """`to_env` of N rows: (N, d) unit actions -> (N, d) env actions."""
        u = np.clip(np.asarray(units, np.float64).reshape(-1, self.dim), -1.0, 1.0)
        action = self.low + 0.5 * (u + 1.0) * (self.high - self.low)
        return np.clip(action, self.low, self.high).astype(self.dtype)

    def to_unit_batch(self, actions: np.ndarray) -> np.ndarray:
        """`to_unit` of N rows: (N, d) env actions -> (N, d) float32 unit actions."""
        a = np.asarray(actions, np.float64).reshape(-1, self.dim)
        unit = 2.0 * (a - self.low) / (self.high - self.low) - 1.0
        return np.clip(unit, -1.0, 1.0).astype(np.float32)


def deterministic_actor(in_dim: int, act_dim: int, hidden: Sequence[int]) -> nn.Sequential:
    """mu(s) in [-1, 1]^d: a ReLU MLP with a tanh output (DDPG / TD3)."""
    return nn.Sequential(*mlp(in_dim, act_dim, hidden, nn.ReLU), nn.Tanh())


class QCritic(nn.Module):
    """Q(s, a): a ReLU MLP over the concatenated state and unit action, one value per row;
    with an `encoder` (in_dim wide output), over the encoder's features of the state."""

    def __init__(
        self,
        in_dim: int,
        act_dim: int,
        hidden: Sequence[int],
        encoder: nn.Module | None = None,
    ):
        super().__init__()
        self.net = mlp(in_dim + act_dim, 1, hidden, nn.ReLU)
        self.encoder = encoder

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        if self.encoder is not None:
            obs = self.encoder(obs)
        return self.net(torch.cat([obs, action], dim=-1)).squeeze(-1)


class ExplorationNoise:
    """Additive action noise in unit-action space: Gaussian N(0, sigma^2), or
    Ornstein-Uhlenbeck x <- x + theta (0 - x) + sigma N(0, 1) (reset every episode).

    `state` is the OU state of single-step use; `states` (N, d) holds one per env copy for
    `batch`, each reset when its copy's episode ends (`reset_rows`)."""

    def __init__(self, dim: int, sigma: float, kind: str = "normal", theta: float = 0.15):
        if kind not in ("normal", "ou"):
            raise ValueError(f"noise_type must be 'normal' or 'ou', got {kind!r}")
        self.dim, self.sigma, self.kind, self.theta = dim, sigma, kind, theta
        self.state = torch.zeros(dim)
        self.states = torch.zeros(0, dim)

    def reset(self) -> None:
        self.state = torch.zeros(self.dim)
        self.states = torch.zeros(0, self.dim)

    def batch(self, n: int) -> torch.Tensor:
        """Noise (n, d) for n copies: i.i.d. Gaussian rows, or one OU step per copy (copies
        that appear start at 0)."""
        gaussian = self.sigma * torch.randn(n, self.dim)
        if self.kind == "normal":
            return gaussian
        if len(self.states) < n:
            grow = torch.zeros(n - len(self.states), self.dim)
            self.states = torch.cat([self.states, grow])
        self.states[:n] = self.states[:n] - self.theta * self.states[:n] + gaussian
        return self.states[:n].clone()

    def reset_rows(self, ended: np.ndarray) -> None:
        """Restart the OU process of the copies whose episode ended (rows of `ended`)."""
        rows = np.flatnonzero(np.asarray(ended, bool)[: len(self.states)])
        if rows.size:
            self.states[torch.from_numpy(rows)] = 0.0

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
    her: HindsightRelabeller | None = None,
) -> None:
    """Add one harness transition; done = terminated only (truncation still bootstraps).
    With `her`, the episode's rows (real and relabelled) are added when it ends."""
    if her is not None:
        _store_her(buffer, scaler, her, 0, transition)
        return
    buffer.add(
        to_vector(observation_space, transition["obs"]),
        scaler.to_unit(transition["action"]),
        float(transition["reward"]),
        float(transition.get("cost", 0.0)),
        to_vector(observation_space, transition["next_obs"]),
        bool(transition["terminated"]),
    )


def store_batch(
    buffer: ReplayBuffer,
    observation_space: spaces.Space,
    scaler: ActionScaler,
    batch: Any,
    her: HindsightRelabeller | None = None,
) -> None:
    """Add a `TransitionBatch` (one row per copy) in one vectorised write; done = terminated.
    With `her`, each copy's episode is relabelled and added when it ends."""
    n = len(batch)
    if her is not None:
        for c in range(n):
            _store_her(buffer, scaler, her, c, batch.row(c))
        return
    buffer.add_batch(
        to_vectors(observation_space, batch.obs),
        scaler.to_unit_batch(batch.action),
        np.asarray(batch.reward, np.float32).reshape(n),
        np.asarray(batch.cost, np.float32).reshape(n),
        to_vectors(observation_space, batch.next_obs),
        np.asarray(batch.terminated, bool).reshape(n),
    )


def _store_her(
    buffer: ReplayBuffer,
    scaler: ActionScaler,
    her: HindsightRelabeller,
    copy: int,
    transition: dict[str, Any],
) -> None:
    rows = her.push(copy, {**transition, "action": scaler.to_unit(transition["action"])})
    if rows is not None:
        buffer.add_batch(rows["obs"], rows["action"], rows["reward"], rows["cost"],
                         rows["next_obs"], rows["done"])  # fmt: skip


def warmup_or(
    policy: Callable[[], torch.Tensor], n: int, dim: int, step: int, learning_starts: int
) -> torch.Tensor:
    """Unit actions (n, d) for a vector step starting at env step `step`: row i (env step
    step + i) is U(-1, 1)^d while step + i < learning_starts, else row i of `policy()`
    (called once, and only when some row is past the warm-up)."""
    warm = torch.from_numpy(step + np.arange(n) < learning_starts)
    if bool(warm.all()):
        return 2.0 * torch.rand(n, dim) - 1.0
    unit = policy()
    if bool(warm.any()):
        unit = torch.where(warm[:, None], 2.0 * torch.rand(n, dim) - 1.0, unit)
    return unit


def due_updates(done: int, steps: int, learning_starts: int, train_freq: int) -> int:
    """How many of the env steps t = done + 1, ..., steps are update steps, i.e. have
    t >= learning_starts and t % train_freq == 0 (one after a single step; after a vector
    step of N copies, those among its N env steps)."""
    first = max(done + 1, learning_starts, 1)
    return max(0, steps // train_freq - (first - 1) // train_freq)


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
    "due_updates",
    "replay_for",
    "store",
    "store_batch",
    "uniform_unit_action",
    "warmup_or",
]
