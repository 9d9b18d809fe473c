"""A user-written agent, used from a scenario as `../examples/custom_agent.py:StayStill`.

Any class built as `Class(observation_space, action_space, config)` with `reset(seed)` and
`act(observation, action_mask)` works; a frozen dataclass `Config` makes its parameters
checkable in scenario files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces


@dataclass(frozen=True)
class StayStillConfig:
    """Parameters of StayStill."""

    jitter: float = 0.0
    """Probability of a random action instead of standing still."""


class StayStill:
    """Does nothing (action 0 in MPE), now and then something random."""

    Config = StayStillConfig

    def __init__(self, observation_space, action_space: spaces.Discrete, config=None):
        if not isinstance(action_space, spaces.Discrete):
            raise TypeError("StayStill needs a Discrete action space")
        self.config = config or StayStillConfig()
        self.n = int(action_space.n)
        self.rng = np.random.default_rng()

    def reset(self, seed=None):
        self.rng = np.random.default_rng(seed)

    def act(self, observation, action_mask=None):
        if self.rng.random() < self.config.jitter:
            return int(self.rng.integers(self.n))
        return 0
