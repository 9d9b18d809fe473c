"""One-step constrained bandits for the safe-RL learners' decisive tests."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

AGENT = "agent_0"


class CostlyBandit(ParallelEnv):
    """One step per episode. Arm 0: reward 0.5, cost 0; arm 1: reward 1, cost 1. Plain reward
    maximisation takes arm 1; with a cost budget below 1 per episode, arm 0 is the answer."""

    metadata = {"name": "costly_bandit_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self):
        self.possible_agents = [AGENT]
        self.agents: list[str] = []

    @functools.cache  # noqa: B019
    def observation_space(self, agent: str) -> spaces.Space:
        return spaces.Box(-1.0, 1.0, (1,), np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(2)

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.agents = [AGENT]
        return {AGENT: np.ones(1, np.float32)}, {AGENT: {"cost": 0.0}}

    def step(self, actions: dict[str, Any]):
        arm = int(actions[AGENT])
        self.agents = []
        return (
            {AGENT: np.ones(1, np.float32)},
            {AGENT: 1.0 if arm else 0.5},
            {AGENT: True},
            {AGENT: False},
            {AGENT: {"cost": float(arm)}},
        )
