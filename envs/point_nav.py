"""2D point navigation (Finn, Abbeel & Levine 2017, "Model-Agnostic Meta-Learning", sec. 5.3):
`testbed/point_nav_v0`, a task family for meta-RL.

A point starts at the origin and moves to a goal it does not observe; the goal is what makes
a task. Here goals lie on a circle (`goal_angle` in radians, `radius`), so a task distribution
is `tasks: {goal_angle: {low: 0, high: 6.283}}`.

Agents
    `agent_0` (one agent, ParallelEnv).

Actions
    Box(-0.1, 0.1, (2,)): the displacement of one step (clipped to the bounds).

Observations
    Box(-inf, inf, (2,)): the point's position.

Rewards
    Minus the distance to the goal after the step.

Costs
    None: `infos["agent_0"]["cost"]` is always 0.0.

Episode end
    Never terminates; truncation after `max_steps` (default 20) steps.

Version history
    v0: first version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

AGENT = "agent_0"


class PointNavEnv(ParallelEnv):
    """Move a point to an unobserved goal on a circle; see the module docstring."""

    metadata = {"name": "point_nav_v0", "render_modes": ["rgb_array"], "is_parallelizable": True}

    def __init__(
        self,
        goal_angle: float = 0.0,
        radius: float = 0.5,
        max_steps: int = 20,
        render_mode: str | None = None,
    ):
        if not radius > 0:
            raise ValueError(f"radius must be > 0, got {radius}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.goal = radius * np.array([np.cos(goal_angle), np.sin(goal_angle)])
        self.max_steps, self.render_mode = max_steps, render_mode
        self.possible_agents = [AGENT]
        self.agents: list[str] = []
        self._obs_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self._act_space = spaces.Box(-0.1, 0.1, (2,), np.float32)
        self._pos = np.zeros(2)
        self._t = 0

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Box:
        return self._act_space

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._act_space.seed(seed)
        self._pos = np.zeros(2)
        self._t = 0
        self.agents = [AGENT]
        return {AGENT: self._pos.astype(np.float32)}, {AGENT: {"cost": 0.0}}

    def step(self, actions: dict[str, Any]):
        move = np.clip(np.asarray(actions[AGENT], np.float64).reshape(2), -0.1, 0.1)
        self._pos = self._pos + move
        self._t += 1
        truncated = self._t >= self.max_steps
        if truncated:
            self.agents = []
        reward = -float(np.linalg.norm(self._pos - self.goal))
        return (
            {AGENT: self._pos.astype(np.float32)},
            {AGENT: reward},
            {AGENT: False},
            {AGENT: truncated},
            {AGENT: {"cost": 0.0}},
        )

    def render(self) -> Any:
        if self.render_mode is None:
            return None
        frame = np.full((64, 64, 3), 235, np.uint8)

        def pixel(p: np.ndarray) -> tuple[int, int]:
            x, y = np.clip(((p + 1.0) * 32).astype(int), 0, 63)
            return 63 - y, x

        frame[pixel(self.goal)] = (46, 139, 87)
        frame[pixel(self._pos)] = (200, 40, 40)
        return frame

    def state(self) -> np.ndarray:
        return np.concatenate([self._pos, self.goal]).astype(np.float32)

    def close(self) -> None:
        pass


def point_nav_v0(
    goal_angle: float = 0.0,
    radius: float = 0.5,
    max_steps: int = 20,
    render_mode: str | None = None,
) -> PointNavEnv:
    """The 2D navigation env (goal on a circle at `goal_angle`, `radius`; `max_steps`)."""
    return PointNavEnv(goal_angle, radius, max_steps, render_mode)
