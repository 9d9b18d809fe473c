"""Reactive strategies for repeated rock-paper-scissors (`classic/rps_v2`).

A reactive strategy (Nowak & Sigmund 1990) answers only the opponent's last move: it plays
`opening` in the first round, then `replies[k]` after the opponent played k (the env observes
the opponent's last move, `num_actions` meaning "none yet"). With probability `epsilon` per
round it plays a random move instead (uniform, or drawn from `noise`), so games between
two of them are not all alike. Examples with 3 actions (0 rock, 1 paper, 2 scissors):

- always rock: `opening: 0, replies: [0, 0, 0]`;
- mirror (copy the opponent): `replies: [0, 1, 2]`;
- beat the last move: `replies: [1, 2, 0]`;
- a weak mirror that answers rock with scissors and, when it errs, prefers the moves that
  lose to paper and scissors: `replies: [2, 1, 2], epsilon: 0.4, noise: [0.3, 0.55, 0.15]`.

`opening: null` opens uniformly at random. All randomness comes from the seed given to `reset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces


@dataclass(frozen=True)
class ReactiveConfig:
    """Parameters of a reactive repeated-RPS strategy."""

    replies: tuple[int, ...] = (0, 0, 0)
    """Move played after the opponent's move k (one entry per action); default always rock."""
    opening: int | None = None
    """First move; None = uniformly random."""
    epsilon: float = 0.0
    """Chance per round of a random move instead (drawn from `noise`)."""
    noise: tuple[float, ...] | None = None
    """Probabilities of the moves of a random move; None = uniform."""
    seed: int | None = None
    """Fallback seed when `reset` is called without one."""


class ReactiveRPS:
    """Plays `opening`, then `replies[opponent's last move]`; random with chance `epsilon`."""

    Config = ReactiveConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: ReactiveConfig | None = None,
    ):
        self.config = config or ReactiveConfig()
        if not isinstance(action_space, spaces.Discrete) or not isinstance(
            observation_space, spaces.Discrete
        ):
            raise ValueError("needs rps_v2's Discrete observation and action spaces")
        self.n = int(action_space.n)
        if observation_space.n != self.n + 1:
            raise ValueError(f"needs rps_v2's Discrete({self.n + 1}) opponent-move observation")
        moves = [
            *self.config.replies,
            *([] if self.config.opening is None else [self.config.opening]),
        ]
        if len(self.config.replies) != self.n or not all(0 <= m < self.n for m in moves):
            raise ValueError(f"replies must list {self.n} moves in 0..{self.n - 1} (and opening)")
        if not 0.0 <= self.config.epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {self.config.epsilon}")
        noise = self.config.noise
        if noise is not None and (
            len(noise) != self.n or min(noise) < 0 or abs(sum(noise) - 1.0) > 1e-6
        ):
            raise ValueError(f"noise must be {self.n} probabilities summing to 1, got {noise}")
        self.noise = None if noise is None else np.asarray(noise, dtype=float)
        self.rng = np.random.default_rng(self.config.seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(self.config.seed if seed is None else seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        last = int(np.asarray(observation).reshape(-1)[0])
        if self.rng.random() < self.config.epsilon:
            return np.int64(self.rng.choice(self.n, p=self.noise))
        if last >= self.n:  # first round
            opening = self.config.opening
            return np.int64(self.rng.integers(self.n) if opening is None else opening)
        return np.int64(self.config.replies[last])
