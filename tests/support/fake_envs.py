"""Tiny PettingZoo envs for harness tests: agents that leave and join, costs, masks."""

from __future__ import annotations

import functools

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv


class ComeAndGo(ParallelEnv):
    """`a` stays 4 steps, `b` leaves after 2, `c` joins at step 2. Reward = action; cost 0.5
    when the action is 1; `c` must take action 2 only (its mask allows nothing else)."""

    metadata = {"name": "come_and_go_v0"}

    def __init__(self):
        self.possible_agents = ["a", "b", "c"]

    @functools.cache  # noqa: B019
    def observation_space(self, agent):
        return spaces.Box(0, 10, (1,), np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        return spaces.Discrete(3)

    def _obs(self, agent):
        return np.array([self.t], dtype=np.float32)

    def _info(self, agent, cost=0.0):
        info = {"cost": cost, "costs": {"ones": cost}}
        if agent == "c":
            info["action_mask"] = np.array([0, 0, 1], dtype=np.int8)
        return info

    def reset(self, seed=None, options=None):
        self.t = 0
        self.agents = ["a", "b"]
        return {a: self._obs(a) for a in self.agents}, {a: self._info(a) for a in self.agents}

    def step(self, actions):
        self.t += 1
        live = list(self.agents)
        rewards = {a: float(actions[a]) for a in live}
        infos = {a: self._info(a, 0.5 if actions[a] == 1 else 0.0) for a in live}
        terms = {a: (a == "b" and self.t >= 2) or self.t >= 4 for a in live}
        truncs = {a: False for a in live}
        obs = {a: self._obs(a) for a in live}
        self.agents = [a for a in live if not terms[a]]
        if self.t == 2:
            self.agents.append("c")
            obs["c"], infos["c"] = self._obs("c"), self._info("c")
        return obs, rewards, terms, truncs, infos


def come_and_go() -> ComeAndGo:
    """Factory for the registry-style reference `tests...fake_envs:come_and_go`."""
    return ComeAndGo()
