"""simple_spread's observation padded to a fixed number of agents (`max_agents`).

simple_spread_v3's observation of agent i among N agents is

    [vel (2), pos (2), landmark_j - pos (2N), other_k - pos (2(N-1)), other_k comm (2(N-1))]

so its length, 6N, changes with N, and a network trained with 3 agents does not read the
observations of 4. With `max_agents: M` (>= N) the same entities go into M slots:

    [vel (2), pos (2), landmark_j - pos (2M), other_k - pos (2(M-1)), other_k comm (2(M-1)),
     landmark present (M), other present (M-1)]

the slots past N (landmarks) and N-1 (other agents) are zeros with a 0 presence bit, so the
length is 8M - 1 for every N <= M, and the first N (N-1) slots hold the unpadded values in
PettingZoo's order. Dynamics, rewards and agent names are unchanged. Used by the PettingZoo
factory (`envs/pettingzoo_std.py`, through `PaddedSpread`) and by the batched one
(`envs/mpe_batched`), which therefore stay equal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.wrappers import BaseParallelWrapper


def padded_dim(max_agents: int) -> int:
    """The padded observation length."""
    return 8 * max_agents - 1


def check_max_agents(n: int, max_agents: int | None) -> None:
    if max_agents is not None and max_agents < n:
        raise ValueError(f"max_agents ({max_agents}) must be at least N ({n})")


def pad_spread(obs: np.ndarray, n: int, max_agents: int) -> np.ndarray:
    """(..., 6n) simple_spread observations -> (..., 8 max_agents - 1), float32."""
    m = max_agents
    obs = np.asarray(obs, np.float32)
    if obs.shape[-1] != 6 * n:
        raise ValueError(f"a simple_spread observation of {n} agents has {6 * n} values")
    out = np.zeros((*obs.shape[:-1], padded_dim(m)), np.float32)
    out[..., :4] = obs[..., :4]
    src, dst = 4, 4
    for count, slots in ((n, m), (n - 1, m - 1), (n - 1, m - 1)):  # landmarks, others, comm
        out[..., dst : dst + 2 * count] = obs[..., src : src + 2 * count]
        src, dst = src + 2 * count, dst + 2 * slots
    out[..., dst : dst + n] = 1.0  # landmarks present
    out[..., dst + m : dst + m + n - 1] = 1.0  # other agents present
    return out


class PaddedSpread(BaseParallelWrapper):
    """A simple_spread ParallelEnv whose observations are padded to `max_agents` slots."""

    def __init__(self, env: Any, n: int, max_agents: int):
        super().__init__(env)
        check_max_agents(n, max_agents)
        self._n, self._m = n, max_agents
        self._space = spaces.Box(-np.inf, np.inf, (padded_dim(max_agents),), np.float32)

    def observation_space(self, agent: str) -> spaces.Space:
        return self._space

    def _pad(self, observations: dict[str, Any]) -> dict[str, np.ndarray]:
        return {a: pad_spread(o, self._n, self._m) for a, o in observations.items()}

    def reset(self, seed: int | None = None, options: dict | None = None):
        observations, infos = self.env.reset(seed=seed, options=options)
        return self._pad(observations), infos

    def step(self, actions: dict[str, Any]):
        observations, *rest = self.env.step(actions)
        return (self._pad(observations), *rest)
