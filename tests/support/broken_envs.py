"""Envs that break what testbed relies on, for the conformance kit's tests: infos without a
cost, an unseeded random draw at step 50 or at reset, a reset that leaves no agents."""

from __future__ import annotations

import random

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv


class Walk(ParallelEnv):
    """Two walkers on a line, 100 steps; observation: position and a seeded noise value."""

    metadata = {"name": "walk_v0", "render_modes": []}

    def __init__(
        self, with_cost: bool = True, unseeded_at: int | None = None, agents_on_reset: bool = True
    ) -> None:
        self.possible_agents = ["a", "b"]
        self.with_cost, self.unseeded_at = with_cost, unseeded_at
        self.agents_on_reset = agents_on_reset
        self._rng = np.random.default_rng()
        self._observation_space = spaces.Box(-200.0, 200.0, (2,), np.float64)
        self._action_space = spaces.Discrete(2)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_space

    def _observe(self) -> dict[str, np.ndarray]:
        noise = self._rng.random()
        if self.t == self.unseeded_at:
            noise = random.SystemRandom().random()  # the bug: not from the env's seed
        return {a: np.array([self.position[a], noise]) for a in self.agents}

    def _infos(self) -> dict[str, dict]:
        return {a: {"cost": 0.0} if self.with_cost else {} for a in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        self._rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents) if self.agents_on_reset else []
        self.position = {a: 0.0 for a in self.possible_agents}
        self.t = 0
        return self._observe(), self._infos()

    def step(self, actions: dict[str, int]):
        self.t += 1
        for agent, action in actions.items():
            self.position[agent] += 1.0 if action else -1.0
        observations, infos = self._observe(), self._infos()
        rewards = {a: -abs(self.position[a]) for a in self.agents}
        terminations = {a: False for a in self.agents}
        truncations = {a: self.t >= 100 for a in self.agents}
        if self.t >= 100:
            self.agents = []
        return observations, rewards, terminations, truncations, infos


def no_cost() -> Walk:
    return Walk(with_cost=False)


def diverges_at_50() -> Walk:
    return Walk(unseeded_at=50)


def unseeded_reset() -> Walk:
    return Walk(unseeded_at=0)


def no_agents_after_reset() -> Walk:
    return Walk(agents_on_reset=False)


def fine() -> Walk:
    return Walk()


def asserts_on_build(size: int = 1) -> ParallelEnv:
    """A factory that fails a bare assert (as some third-party envs do on an unsupported
    version of their simulator)."""
    assert size > 1
    return Walk()
