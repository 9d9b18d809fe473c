"""A tiny learner for harness tests: a state-free softmax policy over Discrete actions,
trained by a one-step policy gradient (reward minus a running baseline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class TinyConfig:
    learning_rate: float = 0.1
    """Step size of the logits."""


class TinyLearner:
    Config = TinyConfig

    def __init__(self, observation_space: Any, action_space: Any, config: Any = None):
        self.config = config or TinyConfig()
        self.logits = torch.randn(int(action_space.n)) * 0.01
        self.baseline = 0.0
        self.steps = 0
        self.last: tuple[int, float] | None = None

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        return np.int64(int(torch.argmax(self.logits)))

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        probs = torch.softmax(self.logits, 0)
        return np.int64(int(torch.multinomial(probs, 1)))

    def observe(self, transition: dict[str, Any]) -> None:
        self.last = (int(transition["action"]), float(transition["reward"]))

    def update(self) -> dict[str, float]:
        action, reward = self.last
        probs = torch.softmax(self.logits, 0)
        grad = -probs
        grad[action] += 1.0
        self.logits += self.config.learning_rate * (reward - self.baseline) * grad
        self.baseline += 0.05 * (reward - self.baseline)
        self.steps += 1
        return {"baseline": self.baseline}

    def state_dict(self) -> dict[str, Any]:
        return {"logits": self.logits.clone(), "baseline": self.baseline, "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.logits = state["logits"].clone()
        self.baseline = float(state["baseline"])
        self.steps = int(state["steps"])
