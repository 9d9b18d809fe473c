"""Tabular Q-learning (Watkins 1989, "Learning from Delayed Rewards"; Watkins & Dayan 1992)
for Discrete observations and Discrete actions.

After every step (s, a, r, s'):
    y = r + gamma (1 - terminated) max_{a' legal} Q(s', a')
    Q(s, a) <- Q(s, a) + alpha (y - Q(s, a))
Truncation bootstraps (only termination zeroes the next value).

Defaults follow Sutton & Barto (2018), section 6.5 (the cliff-walking example: alpha = 0.5,
gamma = 1 there; we use gamma = 0.99 so that tasks without a terminal penalty still prefer
short paths), with epsilon decaying linearly 1 -> 0.05 over 10k steps instead of a fixed 0.1.

`explore` is epsilon-greedy (ties broken at random, torch's global RNG); `act` is greedy
(first legal argmax). The Q table is a (states, actions) float64 tensor in `state_dict`.

Vectorized training (N env copies): `explore_batch` reads N table rows at once (row i explores
with the epsilon of env step steps + i); `observe_batch` queues the N transitions and
`update()` applies their backups one after another in copy order, exactly as N single steps
would (a vectorised scatter would let rows that share (s, a) or s' overwrite each other).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.common.spaces import require_discrete
from testbed.agents.common.value import (
    epsilon_greedy,
    epsilon_greedy_batch,
    greedy,
    linear_epsilon,
    linear_epsilons,
)


@dataclass(frozen=True)
class QLearningConfig:
    """Hyperparameters of tabular Q-learning (defaults: Sutton & Barto 2018, section 6.5)."""

    learning_rate: float = 0.5
    """Step size alpha of the table update (the first, when it decays)."""
    learning_rate_end: float | None = None
    """With `learning_rate_decay_steps`, alpha falls linearly to this and stays (a constant
    alpha keeps the table noisy under stochastic transitions; a smaller final one makes it
    settle closer to Q*). None: constant alpha."""
    learning_rate_decay_steps: int = 0
    """Env steps over which alpha falls from `learning_rate` to `learning_rate_end` (set both
    or neither)."""
    gamma: float = 0.99
    """Discount factor."""
    epsilon_start: float = 1.0
    """Initial exploration rate."""
    epsilon_end: float = 0.05
    """Final exploration rate."""
    epsilon_decay_steps: int = 10_000
    """Env steps (transitions observed, over all env copies) over which epsilon falls linearly
    from start to end; row i of a vector step starting at env step t uses epsilon(t + i)."""
    initial_value: float = 0.0
    """Initial value of every table entry (optimistic when above the achievable returns)."""

    def __post_init__(self) -> None:
        for name in ("learning_rate", "learning_rate_end"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if self.learning_rate_decay_steps < 0:
            raise ValueError(
                f"learning_rate_decay_steps must be >= 0, got {self.learning_rate_decay_steps}"
            )
        if (self.learning_rate_end is None) != (self.learning_rate_decay_steps == 0):
            raise ValueError(
                "learning_rate_end and learning_rate_decay_steps go together: alpha falls from "
                "learning_rate to learning_rate_end over learning_rate_decay_steps env steps"
            )


class QLearning:
    """Watkins' Q-learning over a (states, actions) table."""

    Config = QLearningConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: QLearningConfig | None = None,
    ):
        self.config = config or QLearningConfig()
        self.n_actions = require_discrete(action_space, "Q-learning")
        if not isinstance(observation_space, spaces.Discrete):
            raise ValueError(
                f"Q-learning needs a Discrete observation space, got {observation_space}"
            )
        self.obs_start = int(observation_space.start)
        self.action_start = int(action_space.start)
        n_states = int(observation_space.n)
        # numpy view of a torch tensor: fast per-step indexing, saved as a tensor
        self.table = torch.full(
            (n_states, self.n_actions), self.config.initial_value, dtype=torch.float64
        )
        self.q = self.table.numpy()
        self.steps = 0
        # observed transitions awaiting their backup: (s, a, r, s', terminated, next mask)
        self._pending: list[tuple[int, int, float, int, bool, np.ndarray | None]] = []

    @property
    def epsilon(self) -> float:
        cfg = self.config
        return linear_epsilon(
            cfg.epsilon_start, cfg.epsilon_end, cfg.epsilon_decay_steps, self.steps
        )

    def _state(self, observation: Any) -> int:
        return int(observation) - self.obs_start

    def _states(self, observations: Any) -> np.ndarray:
        if isinstance(observations, dict) and "observation" in observations:
            observations = observations["observation"]
        return np.asarray(observations, np.int64).reshape(-1) - self.obs_start

    def reset(self, seed: int | None = None) -> None:
        """Greedy evaluation needs no randomness; exploration uses torch's global RNG."""

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        return np.int64(self.action_start + greedy(self.q[self._state(observation)], action_mask))

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        values = self.q[self._state(observation)]
        action = epsilon_greedy(lambda: values, self.n_actions, self.epsilon, action_mask)
        return np.int64(self.action_start + action)

    def explore_batch(
        self, observations: Any, action_masks: np.ndarray | None = None
    ) -> np.ndarray:
        """Epsilon-greedy actions (N,) for N stacked observations (one table gather)."""
        cfg, states = self.config, self._states(observations)
        epsilons = linear_epsilons(
            cfg.epsilon_start, cfg.epsilon_end, cfg.epsilon_decay_steps, self.steps, len(states)
        )
        actions = epsilon_greedy_batch(
            lambda: self.q[states], self.n_actions, epsilons, action_masks
        )
        return self.action_start + actions

    def observe(self, transition: dict[str, Any]) -> None:
        self.steps += 1
        self._pending.append(
            (
                self._state(transition["obs"]),
                int(transition["action"]) - self.action_start,
                float(transition["reward"]),
                self._state(transition["next_obs"]),
                bool(transition["terminated"]),
                transition.get("next_action_mask"),
            )
        )

    def observe_batch(self, batch: Any) -> None:
        """Queue one transition per copy (a `TransitionBatch`) for the next `update()`."""
        n = len(batch)
        self.steps += n
        actions = np.asarray(batch.action, np.int64).reshape(n) - self.action_start
        states, next_states = self._states(batch.obs), self._states(batch.next_obs)
        masks = batch.next_action_mask
        for c in range(n):
            self._pending.append(
                (
                    int(states[c]),
                    int(actions[c]),
                    float(batch.reward[c]),
                    int(next_states[c]),
                    bool(batch.terminated[c]),
                    None if masks is None else masks[c],
                )
            )

    def update(self) -> dict[str, float]:
        """One Q-learning backup per transition observed since the last call, in order; the
        mean |TD error|."""
        pending, self._pending = self._pending, []
        if not pending:
            return {}
        first = self.steps - len(pending)  # the env step each queued transition was
        errors = [
            self._backup(*transition, self._rate(first + i + 1))
            for i, transition in enumerate(pending)
        ]
        return {"td_error": float(np.mean(errors)), "epsilon": self.epsilon}

    def _rate(self, step: int) -> float:
        """Alpha at env step `step`."""
        cfg = self.config
        if cfg.learning_rate_end is None or cfg.learning_rate_decay_steps <= 0:
            return cfg.learning_rate
        return linear_epsilon(
            cfg.learning_rate, cfg.learning_rate_end, cfg.learning_rate_decay_steps, step
        )

    def _backup(
        self, s: int, a: int, reward: float, s_next: int, terminated: bool, mask: Any,
        rate: float,
    ) -> float:  # fmt: skip
        """Q(s, a) += alpha (r + gamma (1 - terminated) max_a' Q(s', a') - Q(s, a)); |TD|."""
        next_values = self.q[s_next]
        if mask is not None and np.any(mask):
            next_values = next_values[np.asarray(mask, dtype=bool)]
        bootstrap = 0.0 if terminated else self.config.gamma * next_values.max()
        td_error = float(reward + bootstrap - self.q[s, a])
        self.q[s, a] += rate * td_error
        return abs(td_error)

    def state_dict(self) -> dict[str, Any]:
        return {"q": self.table.clone(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if tuple(state["q"].shape) != tuple(self.table.shape):
            raise ValueError(
                f"Q table shape {tuple(state['q'].shape)} != {tuple(self.table.shape)}"
            )
        self.table.copy_(state["q"])
        self.steps = int(state["steps"])
