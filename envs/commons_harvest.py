"""Commons harvest: a repeated common-pool resource game where greed pays short-term (Parallel).

Dynamics (the Gordon-Schaefer fishery: catch = effort x catchability x stock)
    A shared stock S (start `initial_stock`, default the sustainable steady state K/2 + rK/4)
    is harvested by `n_agents` at once, every step:
    1. agent i harvests h_i = e_i * `catch_rate` * S, where its effort e_i = action /
       (`harvest_levels` - 1) is in [0, 1] (if the efforts would take more than S, S is shared
       in proportion to them);
    2. the rest R = S - sum(h) regrows logistically:
       S' = min(K, R + g * r * R * (1 - R / K)) with K = `capacity`, r = `growth_rate`, and
       g = max(0, 1 + `growth_noise` * N(0, 1)) (g = 1 with the default noise 0);
    3. if R < `collapse_stock` * K the resource has collapsed: the stock drops to 0 and the
       episode terminates; otherwise it is truncated after `horizon` steps.
    Regrowth peaks at R = K/2, so the maximum sustainable yield (MSY) is rK/4 per step; it is
    reached when the group's total effort takes the fraction r / (2 + r) of the stock. With the
    defaults (5 agents, K = 100, r = 0.4, catch_rate 0.1, levels 0..3) that is level 1 for
    everyone: 2 per agent per step from a stock of 60. More effort from anyone lowers the stock
    for all, and the group's yield with it, but raises that agent's own catch.

Parameters (defaults)
    n_agents 5, capacity 100.0, growth_rate 0.4, catch_rate 0.1, harvest_levels 4, horizon 100,
    initial_stock None (= K/2 + rK/4), collapse_stock 0.05, depletion_threshold 0.25,
    growth_noise 0.0, render_mode None | "ansi" (stock bar and harvests as text) |
    "rgb_array" (stock column with the steady-state and depletion marks, one bar per agent).

Agents
    `agent_0` ... `agent_{n_agents-1}`, all acting every step.

Observation
    Box(0, 1, (4,), float32): [stock / K, own harvest last step / (catch_rate * K), mean
    harvest of the others last step / (catch_rate * K), steps left / horizon]; harvests are 0
    before the first step.

Action
    Discrete(harvest_levels): level a = effort a / (harvest_levels - 1); the highest level
    takes `catch_rate` of the stock.

Rewards and costs
    Reward = the amount the agent harvested this step. `infos[agent]["cost"]` (also given as
    `infos[agent]["costs"]["depletion"]`) = 1.0 for every agent on each step that leaves R,
    the stock after harvesting, below `depletion_threshold` * K (default 25 %), else 0.0: a
    shared cost for constrained audits (0.0 in the infos of `reset`).
    `infos[agent]["harvest_level"]` is the level the agent played.

What good play scores (defaults: 5 agents, 100 steps; agents of agents/scripted/commons.py)
    - all "sustainable" (level 1, the MSY effort share): 200 each, 1000 for the group, the most
      a group can harvest sustainably; the stock stays at 60; no depletion cost.
    - all "greedy" (highest level): the stock collapses after 6 steps; 16.07 each, 80.35 for
      the group.
    - one greedy among four sustainable: the greedy agent gets 339.3 (more than the 200 it
      would get by cooperating), each sustainable one 113.1, the group 791.6 (less than 1000):
      the dilemma. The stock settles near 31 and the depletion cost is paid on 69 steps.
    - all "tit_for_tat": as all sustainable. One greedy among four of them: they retaliate, the
      stock collapses after 7 steps, the greedy agent gets 21.1 and the others 17.1 each.
    - uniformly random levels: about 120 per agent (mean over seeds; the stock stays low, the
      depletion cost is paid on about 80 steps, a few episodes collapse).
    `tests/envs/test_commons_harvest.py` checks these figures and
    `benchmarks/commons_dilemma.py` measures them.

Version history
    v0: first version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

_STOCK, _MSY, _DEPLETED = (
    np.array([60, 170, 60], np.uint8),
    np.array([240, 200, 40], np.uint8),
    np.array([210, 50, 50], np.uint8),
)


class CommonsHarvestEnv(ParallelEnv):
    """A logistic common-pool resource harvested by several agents at once."""

    metadata = {
        "name": "commons_harvest_v0",
        "render_modes": ["ansi", "rgb_array"],
        "is_parallelizable": True,
        "render_fps": 10,
    }

    def __init__(
        self,
        n_agents: int = 5,
        capacity: float = 100.0,
        growth_rate: float = 0.4,
        catch_rate: float = 0.1,
        harvest_levels: int = 4,
        horizon: int = 100,
        initial_stock: float | None = None,
        collapse_stock: float = 0.05,
        depletion_threshold: float = 0.25,
        growth_noise: float = 0.0,
        render_mode: str | None = None,
    ):
        if n_agents < 1 or horizon < 1 or harvest_levels < 2:
            raise ValueError("need n_agents >= 1, horizon >= 1 and harvest_levels >= 2")
        if capacity <= 0 or growth_rate <= 0 or not 0 < catch_rate <= 1:
            raise ValueError("need capacity > 0, growth_rate > 0 and 0 < catch_rate <= 1")
        if growth_noise < 0 or not 0 <= collapse_stock < 1:
            raise ValueError("need growth_noise >= 0 and 0 <= collapse_stock < 1")
        if initial_stock is not None and not 0 < initial_stock <= capacity:
            raise ValueError(f"initial_stock must be in (0, capacity], got {initial_stock}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.n_agents = n_agents
        self.capacity = float(capacity)
        self.growth_rate = float(growth_rate)
        self.catch_rate = float(catch_rate)
        self.harvest_levels = harvest_levels
        self.horizon = horizon
        steady = capacity / 2 + growth_rate * capacity / 4  # the stock the MSY is taken from
        self.initial_stock = float(
            min(steady if initial_stock is None else initial_stock, capacity)
        )
        self.collapse_stock = float(collapse_stock)
        self.depletion_threshold = float(depletion_threshold)
        self.growth_noise = float(growth_noise)
        self.render_mode = render_mode
        self.possible_agents = [f"agent_{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        self.catch_per_level = np.linspace(0.0, self.catch_rate, harvest_levels)
        obs_space = spaces.Box(0.0, 1.0, (4,), dtype=np.float32)
        act_space = spaces.Discrete(harvest_levels)
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {a: act_space for a in self.possible_agents}
        self.rng = np.random.default_rng()
        self.stock = self.initial_stock
        self.t = 0
        self.last_harvest = np.zeros(n_agents)

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    @property
    def msy(self) -> float:
        """Maximum sustainable yield of the whole group per step, r K / 4."""
        return self.growth_rate * self.capacity / 4

    def _observations(self) -> dict[str, np.ndarray]:
        n = self.n_agents
        harvest = self.last_harvest
        others = (harvest.sum() - harvest) / (n - 1) if n > 1 else np.zeros(n)
        scale = self.catch_rate * self.capacity
        obs = np.empty((n, 4), dtype=np.float32)
        obs[:, 0] = self.stock / self.capacity
        obs[:, 1] = harvest / scale
        obs[:, 2] = others / scale
        obs[:, 3] = (self.horizon - self.t) / self.horizon
        np.clip(obs, 0.0, 1.0, out=obs)
        return dict(zip(self.possible_agents, obs, strict=True))

    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        self.rng = np.random.default_rng(seed)
        self.agents = self.possible_agents[:]
        self.stock = self.initial_stock
        self.t = 0
        self.last_harvest = np.zeros(self.n_agents)
        return self._observations(), {
            a: {"cost": 0.0, "costs": {"depletion": 0.0}} for a in self.agents
        }

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("step() called after the episode ended; call reset()")
        levels = np.array([int(actions[a]) for a in self.possible_agents])
        if levels.min() < 0 or levels.max() >= self.harvest_levels:
            raise ValueError(f"harvest levels must be in 0..{self.harvest_levels - 1}: {actions}")
        fractions = self.catch_per_level[levels]
        total = fractions.sum()
        if total > 1.0:  # more effort than there is stock: share it in proportion
            fractions = fractions / total
        harvest = fractions * self.stock
        left = max(0.0, self.stock - harvest.sum())
        collapsed = left < self.collapse_stock * self.capacity
        if collapsed:
            self.stock = 0.0
        else:
            shock = 1.0
            if self.growth_noise > 0:
                shock = max(0.0, 1.0 + self.growth_noise * self.rng.standard_normal())
            regrowth = shock * self.growth_rate * left * (1.0 - left / self.capacity)
            self.stock = min(self.capacity, left + regrowth)
        self.last_harvest = harvest
        self.t += 1
        timeout = self.t >= self.horizon
        agents = self.agents
        cost = 1.0 if left < self.depletion_threshold * self.capacity else 0.0
        rewards = {a: float(h) for a, h in zip(agents, harvest, strict=True)}
        terminations = {a: collapsed for a in agents}
        truncations = {a: timeout and not collapsed for a in agents}
        infos = {
            a: {"cost": cost, "costs": {"depletion": cost}, "harvest_level": int(lv)}
            for a, lv in zip(agents, levels, strict=True)
        }
        if collapsed or timeout:
            self.agents = []
        return self._observations(), rewards, terminations, truncations, infos

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "ansi":
            return self._ansi()
        if self.render_mode == "rgb_array":
            return self._rgb()
        return None

    def _ansi(self, width: int = 40) -> str:
        filled = int(round(width * self.stock / self.capacity))
        bar = "#" * filled + "." * (width - filled)
        harvests = " ".join(f"{h:.1f}" for h in self.last_harvest)
        return (
            f"t={self.t:>3}/{self.horizon} stock {self.stock:7.2f}/{self.capacity:g} [{bar}]\n"
            f"last harvests: {harvests}\n"
        )

    def _rgb(self) -> np.ndarray:
        height, bar_w, gap = 120, 24, 8
        width = max(160, 40 + (bar_w + gap) * self.n_agents)
        frame = np.full((height, width, 3), 245, dtype=np.uint8)
        # Stock column on the left: green fill, yellow tick at the sustainable steady state
        # K/2 + rK/4 (the stock before harvesting the MSY), red tick at the depletion threshold.
        top, bottom = 10, height - 10
        span = bottom - top

        def y_of(fraction: float) -> int:
            return bottom - int(round(span * min(max(fraction, 0.0), 1.0)))

        frame[top:bottom, 8:28] = 200
        frame[y_of(self.stock / self.capacity) : bottom, 8:28] = _STOCK
        frame[y_of(0.5 + self.msy / self.capacity), 4:32] = _MSY
        frame[y_of(self.depletion_threshold), 4:32] = _DEPLETED
        # One column per agent: last harvest relative to the most one agent can take.
        scale = self.catch_rate * self.capacity
        for i, h in enumerate(self.last_harvest):
            x = 40 + i * (bar_w + gap)
            frame[top:bottom, x : x + bar_w] = 225
            frame[y_of(h / scale) : bottom, x : x + bar_w] = (70, 110, 200)
        return frame

    def close(self) -> None:
        pass


def commons_harvest_v0(
    n_agents: int = 5,
    capacity: float = 100.0,
    growth_rate: float = 0.4,
    catch_rate: float = 0.1,
    harvest_levels: int = 4,
    horizon: int = 100,
    initial_stock: float | None = None,
    collapse_stock: float = 0.05,
    depletion_threshold: float = 0.25,
    growth_noise: float = 0.0,
    render_mode: str | None = None,
) -> CommonsHarvestEnv:
    """The commons harvest ParallelEnv; see the module docstring."""
    return CommonsHarvestEnv(
        n_agents,
        capacity,
        growth_rate,
        catch_rate,
        harvest_levels,
        horizon,
        initial_stock,
        collapse_stock,
        depletion_threshold,
        growth_noise,
        render_mode,
    )
