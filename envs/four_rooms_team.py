"""Four rooms for a team (Sutton, Precup & Singh 1999's layout): `testbed/four_rooms_team_v0`.

The grid of `testbed/four_rooms_v0` (13 x 13, 104 free cells, four rooms joined by one-cell
doorways) with `n_agents` agents that must each reach the same goal cell. Agents block each
other, so they meet and queue in the doorways: each agent's world is no longer stationary.

Agents
    `agent_0` ... `agent_{n_agents-1}` (default 2), acting at once (ParallelEnv). An agent
    that reaches the goal terminates and leaves (it no longer occupies a cell).

Actions
    Discrete(4): 0 up, 1 down, 2 left, 3 right. With probability `slip` (default 1/3) an
    agent's action is replaced by a uniformly drawn one. A move fails (the agent stays) into a
    wall, into a cell another agent occupies at the start of the step, and for all agents
    moving into the same cell.

Observations
    Discrete(104): the index of the agent's own free cell (as in four_rooms_v0; the others
    are not seen, so from one agent's view they are part of the dynamics).

Rewards
    1.0 to an agent when it reaches the goal, else 0; the team return is the number of agents
    that reached it (at most `n_agents`).

Costs
    None: `infos[a]["cost"]` is always 0.0.

Episode end
    Each agent terminates at the goal; the others are truncated after `max_steps` (default
    500) steps.

Reset
    Agents on distinct uniformly drawn free cells other than the goal (`goal`, default 62).

Rendering
    "rgb_array": a (13 * 16, 13 * 16, 3) uint8 frame (walls dark, goal green, agents red);
    "ansi": text, `#` wall, `G` goal, `0`, `1`, ... agents.

Version history
    v0: first version.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from testbed.envs.four_rooms import (
    CELL,
    DEFAULT_GOAL,
    FREE,
    MOVES,
    WALLS,
    check_params,
    draw,
)


class FourRoomsTeamEnv(ParallelEnv):
    """Several agents, one goal, one-cell doorways; see the module docstring."""

    metadata = {
        "name": "four_rooms_team_v0",
        "render_modes": ["rgb_array", "ansi"],
        "is_parallelizable": True,
        "render_fps": 10,
    }

    def __init__(
        self,
        n_agents: int = 2,
        goal: int = DEFAULT_GOAL,
        slip: float = 1.0 / 3.0,
        max_steps: int = 500,
        render_mode: str | None = None,
    ):
        if not 1 <= n_agents <= 8:
            raise ValueError(f"n_agents must be in 1..8, got {n_agents}")
        check_params(goal, slip, max_steps, render_mode, self.metadata["render_modes"])
        self.goal, self.slip, self.max_steps = int(goal), slip, max_steps
        self.render_mode = render_mode
        self.possible_agents = [f"agent_{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        self._obs_space = spaces.Discrete(len(FREE))
        self._act_space = spaces.Discrete(4)
        self._rng = np.random.default_rng()
        self._cells = np.zeros(n_agents, np.int64)
        self._t = 0

    def observation_space(self, agent: str) -> spaces.Discrete:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._act_space

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._act_space.seed(seed)
        others = np.delete(np.arange(len(FREE)), self.goal)
        self._cells = self._rng.choice(others, len(self.possible_agents), replace=False)
        self._t = 0
        self.agents = list(self.possible_agents)
        obs = {a: int(self._cells[i]) for i, a in enumerate(self.possible_agents)}
        return obs, {a: {"cost": 0.0} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        active = [self.possible_agents.index(a) for a in self.agents]
        targets = {}
        for i in active:
            action = int(actions[self.possible_agents[i]])
            if not 0 <= action < 4:
                raise ValueError(f"action must be in 0..3, got {action}")
            if self._rng.random() < self.slip:
                action = int(self._rng.integers(4))
            row, col = FREE[self._cells[i]] + MOVES[action]
            targets[i] = int(self._cells[i]) if WALLS[row, col] else int(CELL[row, col])
        occupied = {int(self._cells[i]) for i in active}
        wanted = list(targets.values())
        for i, cell in targets.items():
            moved = cell != self._cells[i]
            if moved and cell not in occupied and wanted.count(cell) == 1:
                self._cells[i] = cell
        self._t += 1
        obs, rewards, terminated, truncated = {}, {}, {}, {}
        for i in active:
            name = self.possible_agents[i]
            reached = int(self._cells[i]) == self.goal
            obs[name] = int(self._cells[i])
            rewards[name] = 1.0 if reached else 0.0
            terminated[name] = reached
            truncated[name] = not reached and self._t >= self.max_steps
        infos = {name: {"cost": 0.0} for name in obs}
        self.agents = [a for a in self.agents if not (terminated[a] or truncated[a])]
        return obs, rewards, terminated, truncated, infos

    def render(self) -> Any:
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode=...")
            return None
        placed = [
            (a.rsplit("_", 1)[1][-1], int(self._cells[self.possible_agents.index(a)]))
            for a in self.agents
        ]
        return draw(self.goal, placed, self.render_mode)

    def state(self) -> np.ndarray:
        alive = np.array([a in self.agents for a in self.possible_agents])
        return np.concatenate([np.where(alive, self._cells, -1), [self.goal]])

    def close(self) -> None:
        pass


def four_rooms_team_v0(
    n_agents: int = 2,
    goal: int = DEFAULT_GOAL,
    slip: float = 1.0 / 3.0,
    max_steps: int = 500,
    render_mode: str | None = None,
) -> FourRoomsTeamEnv:
    """The team four-rooms env (agents, goal cell, slip probability, step limit)."""
    return FourRoomsTeamEnv(n_agents, goal, slip, max_steps, render_mode)
