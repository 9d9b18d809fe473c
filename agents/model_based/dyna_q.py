"""Tabular Dyna-Q (Sutton 1990, "Integrated architectures for learning, planning, and reacting
based on approximating dynamic programming"; Sutton & Barto 2018, section 8.2).

Q-learning (agents/value/q_learning.py) plus a learned table model: after each real step
(s, a, r, s', terminated) the model keeps Model(s, a) = (r, s', terminated), the last outcome
seen (a sample model of a stochastic env), and `planning_steps` simulated backups follow, each
on a uniformly drawn (s, a) already seen:

    (r, s', done) = Model(s, a);  Q(s, a) += alpha (r + gamma (1 - done) max_a' Q(s', a') - Q(s, a))

Planning ignores action masks (the model does not keep them). With `planning_steps: 0` it is
Q-learning. The model (rewards, next states, terminations, which pairs were seen) is part of
`state_dict`, so checkpoints keep what was learned about the env; `model_error(transitions)`
reports the one-step error of the model on held-out transitions.

Draws use torch's global RNG, so seeded runs plan alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.value.q_learning import QLearning, QLearningConfig


@dataclass(frozen=True)
class DynaQConfig(QLearningConfig):
    """Q-learning's hyperparameters plus the planning budget (Sutton & Barto 2018: n = 5-50)."""

    planning_steps: int = 10
    """Simulated backups from the model after each real step (0 = plain Q-learning)."""


class DynaQ(QLearning):
    """Dyna-Q over a (states, actions) table with a last-outcome table model."""

    Config = DynaQConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: DynaQConfig | None = None,
    ):
        config = config or DynaQConfig()
        if config.planning_steps < 0:
            raise ValueError(f"planning_steps must be >= 0, got {config.planning_steps}")
        super().__init__(observation_space, action_space, config)
        shape = self.table.shape
        self.model_reward = torch.zeros(shape, dtype=torch.float64)
        self.model_next = torch.zeros(shape, dtype=torch.int64)
        self.model_done = torch.zeros(shape, dtype=torch.bool)
        self.model_seen = torch.zeros(shape, dtype=torch.bool)
        self.planned = 0
        self._seen: list[tuple[int, int]] = []  # pairs in the model, in order first seen

    def update(self) -> dict[str, float]:
        """The real backups (as Q-learning), each followed by its model update and
        `planning_steps` simulated backups; mean |TD error| of the real ones."""
        pending, self._pending = self._pending, []
        if not pending:
            return {}
        errors = []
        first = self.steps - len(pending)  # the env step each queued transition was
        for i, (s, a, reward, s_next, terminated, mask) in enumerate(pending):
            rate = self._rate(first + i + 1)
            errors.append(self._backup(s, a, reward, s_next, terminated, mask, rate))
            self.model_reward[s, a] = reward
            self.model_next[s, a] = s_next
            self.model_done[s, a] = terminated
            if not self.model_seen[s, a]:
                self.model_seen[s, a] = True
                self._seen.append((s, a))
            self._plan(rate)
        return {"td_error": float(np.mean(errors)), "epsilon": self.epsilon,
                "model_pairs": float(self.model_seen.sum())}  # fmt: skip

    def _plan(self, rate: float) -> None:
        n = self.config.planning_steps
        if n == 0:
            return
        reward, following = self.model_reward.numpy(), self.model_next.numpy()
        done = self.model_done.numpy()
        for row in torch.randint(len(self._seen), (n,)).tolist():
            s, a = self._seen[row]
            self._backup(s, a, float(reward[s, a]), int(following[s, a]), bool(done[s, a]), None,
                         rate)  # fmt: skip
        self.planned += n

    def model_error(self, transitions: list[dict[str, Any]]) -> dict[str, float]:
        """One-step error of the model on `transitions` (harness dicts) whose (s, a) it has
        seen: the share whose next state it predicts wrongly, and the mean |reward error|."""
        wrong, reward_error, known = 0, 0.0, 0
        for t in transitions:
            s = self._state(t["obs"])
            a = int(t["action"]) - self.action_start
            if not self.model_seen[s, a]:
                continue
            known += 1
            wrong += int(self.model_next[s, a]) != self._state(t["next_obs"])
            reward_error += abs(float(self.model_reward[s, a]) - float(t["reward"]))
        if known == 0:
            return {"known": 0.0, "next_state_error": float("nan"), "reward_error": float("nan")}
        return {"known": known / len(transitions), "next_state_error": wrong / known,
                "reward_error": reward_error / known}  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "model_reward": self.model_reward.clone(),
            "model_next": self.model_next.clone(),
            "model_done": self.model_done.clone(),
            "model_seen": self.model_seen.clone(),
            "planned": self.planned,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for name in ("model_reward", "model_next", "model_done", "model_seen"):
            getattr(self, name).copy_(state[name])
        self.planned = int(state["planned"])
        self._seen = [(int(s), int(a)) for s, a in torch.nonzero(self.model_seen)]
