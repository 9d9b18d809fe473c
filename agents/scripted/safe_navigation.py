"""Scripted navigators for `testbed/safe_navigation_v0`: a safe one and a known-unsafe one.

`SafeNavigator` follows a potential field and turns it into an acceleration with the env's own
dynamics model (`v' = (1 - DAMPING) v + ACCEL * DT * a`, from the env module):

- hazards (`avoid_hazards`): the potential is a navigation function, the geodesic distance to
  the goal on a grid of `grid_step` cells around the hazards inflated by the robot's radius
  and `safety_margin` (computed once per episode; hazards and goals do not move). Unlike a sum
  of attractive and repulsive terms it has no local minima: descending it always leads to the
  goal when a path exists. The robot aims at the farthest point of the descent path it can
  see in a straight line, so it drives straight when nothing is in the way. Within the margin
  of a hazard, any velocity toward it is removed (a last safety filter).
- robots (`avoid_robots`): repulsive fields within `safety_margin + lookahead`, with a swerve
  to the right (both robots of a head-on pair turn the same way), and slowing down near them.
- speed: cruise at `speed_fraction * speed_limit` (read from the observation), slower within
  `slow_radius` of the goal; a command whose predicted speed exceeds that is scaled back.

Discrete actions: the direction whose predicted velocity is closest to the desired one.

`UnsafeNavigator` is the same class with the straight-line preset (`avoid_hazards=False`,
`avoid_robots=False`, `safety_margin=0`, `speed_fraction=0.9`): it drives straight at its goal
just under the speed limit through whatever lies on the way, a known-unsafe subject for audits.
Scores and costs of both on the default env are in the env's module docstring.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from testbed.envs.safe_navigation import ACCEL, DAMPING, DIRECTIONS, DT

HEADER, ROW = 9, 7  # floats before the entity rows, floats per entity row
NEIGHBOURS = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc]


@dataclass(frozen=True)
class NavigatorConfig:
    """Parameters of the scripted navigator (distances in world units)."""

    safety_margin: float = 0.1
    """Clearance kept between the robot's body and hazard edges and other robots' bodies."""
    avoid_hazards: bool = True
    """Plan around hazards; False drives straight through them."""
    avoid_robots: bool = True
    """Swerve around and slow down near other robots; False ignores them."""
    speed_fraction: float = 0.8
    """Cruise speed as a fraction of the env's speed limit (read from the observation)."""
    lookahead: float = 0.25
    """Distance beyond the margin at which other robots start to repel."""
    slow_radius: float = 0.3
    """Distance to the goal within which the robot slows down to stop on it."""
    grid_step: float = 0.05
    """Cell size of the planning grid."""


@dataclass(frozen=True)
class UnsafeNavigatorConfig(NavigatorConfig):
    """The straight-line preset: ignores hazards and other robots."""

    safety_margin: float = 0.0
    """Clearance kept from hazards and robots (unused while avoidance is off)."""
    avoid_hazards: bool = False
    """Plan around hazards; False drives straight through them."""
    avoid_robots: bool = False
    """Swerve around and slow down near other robots; False ignores them."""
    speed_fraction: float = 0.9
    """Cruise speed as a fraction of the env's speed limit (read from the observation)."""


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _segment_clear(start: np.ndarray, ends: np.ndarray, centres: np.ndarray, radii: np.ndarray):
    """For each end point: does the segment from `start` stay outside every (centre, radius)?"""
    if len(centres) == 0:
        return np.ones(len(ends), dtype=bool)
    seg = ends - start  # (k, 2)
    length2 = np.maximum((seg * seg).sum(axis=1), 1e-12)
    t = np.clip(((centres[None] - start) * seg[:, None]).sum(axis=2) / length2[:, None], 0, 1)
    closest = start + t[..., None] * seg[:, None]  # (k, hazards, 2)
    gap2 = ((closest - centres[None]) ** 2).sum(axis=2)
    return (gap2 >= radii[None] ** 2).all(axis=1)


def _without_approach(direction: np.ndarray, towards: list[np.ndarray]) -> np.ndarray | None:
    """`direction` minus its parts toward each of `towards`, or None when that is impossible."""
    for _ in range(3):  # alternating projections onto the allowed half-planes
        for toward in towards:
            direction = direction - max(float(direction @ toward), 0.0) * toward
    return None if any(direction @ toward > 1e-6 for toward in towards) else direction


def _filter(direction: np.ndarray, hazards: list[np.ndarray], robots: list[np.ndarray]):
    """Never close in on a hazard inside the margin; on robots inside it, only if unavoidable."""
    allowed = _without_approach(direction, hazards + robots)
    if allowed is None and robots:  # boxed in: back away from the robots, not toward a hazard
        allowed = _without_approach(_unit(-np.sum(robots, axis=0)), hazards)
    return np.zeros(2) if allowed is None else allowed


class SafeNavigator:
    """Navigation-function path around hazards, repulsion from robots, a speed cap."""

    Config = NavigatorConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: NavigatorConfig | None = None,
    ):
        self.config = config or self.Config()
        size = observation_space.shape[0] if isinstance(observation_space, spaces.Box) else 0
        if size < HEADER or (size - HEADER) % ROW:
            raise ValueError(f"needs safe_navigation's observations, got {observation_space!r}")
        if isinstance(action_space, spaces.Box) and action_space.shape == (2,):
            self.directions = None
        elif isinstance(action_space, spaces.Discrete) and action_space.n in DIRECTIONS:
            self.directions = DIRECTIONS[int(action_space.n)]
        else:
            raise ValueError(f"needs safe_navigation's actions, got {action_space!r}")
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Forget the plan (deterministic policy: the seed is not used)."""
        self.goal: np.ndarray | None = None
        self.field: np.ndarray | None = None

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        obs = np.asarray(observation, dtype=np.float64)
        position, velocity, to_goal = obs[0:2], obs[2:4], obs[4:6]
        radius, speed_limit, half = float(obs[6]), float(obs[7]), float(obs[8])
        entities = obs[HEADER:].reshape(-1, ROW)
        hazards = entities[entities[:, 5] > 0]
        robots = entities[entities[:, 6] > 0]
        cfg = self.config
        cruise = cfg.speed_fraction * speed_limit
        speed = cruise * min(1.0, float(np.linalg.norm(to_goal)) / cfg.slow_radius)
        direction = _unit(to_goal)
        near_hazards: list[np.ndarray] = []  # unit vectors toward obstacles inside the margin
        near_robots: list[np.ndarray] = []
        if cfg.avoid_hazards and len(hazards):
            centres, radii = position + hazards[:, :2], hazards[:, 4] + radius + cfg.safety_margin
            direction = self._path_direction(position, position + to_goal, centres, radii, half)
            gap = np.linalg.norm(hazards[:, :2], axis=1) - hazards[:, 4] - radius
            near_hazards = [_unit(h) for h in hazards[gap < cfg.safety_margin, :2]]
        if cfg.avoid_robots and len(robots):
            apart = np.linalg.norm(robots[:, :2], axis=1)
            towards = robots[:, :2] / np.maximum(apart, 1e-9)[:, None]
            gap = apart - robots[:, 4] - radius
            reach = cfg.safety_margin + cfg.lookahead
            push = np.clip((reach - gap) / cfg.lookahead, 0.0, None)
            right = np.stack([towards[:, 1], -towards[:, 0]], axis=1)  # a quarter turn right
            direction = _unit(direction + (push[:, None] * (right - towards)).sum(axis=0))
            speed *= float(np.clip(gap.min() / reach, 0.3, 1.0))
            near_robots = list(towards[gap < cfg.safety_margin])
        direction = _filter(direction, near_hazards, near_robots)
        others = robots[:, :2] if cfg.avoid_robots else np.zeros((0, 2))
        return self._action(velocity, direction * speed, cruise, others, 2 * radius)

    # -----------------------------------------------------------------------------------------
    # The navigation function: geodesic distance to the goal on a grid around the hazards.

    def _plan(self, goal: np.ndarray, centres: np.ndarray, radii: np.ndarray, half: float):
        step = self.config.grid_step
        n = max(int(np.ceil(2 * half / step)), 2)
        xs = -half + (np.arange(n) + 0.5) * (2 * half / n)
        grid = np.stack(np.meshgrid(xs, xs, indexing="ij"), axis=-1)  # [i, j] -> (x, y)
        gap2 = ((grid[:, :, None, :] - centres) ** 2).sum(axis=3)
        blocked = (gap2 < (radii + step / 2) ** 2).any(axis=2)
        start = self._cell(goal, half, n)
        blocked[start] = False
        field = np.full((n, n), np.inf)
        field[start] = 0.0
        queue = [(0.0, start)]
        while queue:  # Dijkstra, 8-connected
            dist, (i, j) = heapq.heappop(queue)
            if dist > field[i, j]:
                continue
            for di, dj in NEIGHBOURS:
                a, b = i + di, j + dj
                if 0 <= a < n and 0 <= b < n and not blocked[a, b]:
                    new = dist + (1.4142135623730951 if di and dj else 1.0)
                    if new < field[a, b]:
                        field[a, b] = new
                        heapq.heappush(queue, (new, (a, b)))
        self.goal, self.field, self.grid = goal.copy(), field, grid

    @staticmethod
    def _cell(point: np.ndarray, half: float, n: int) -> tuple[int, int]:
        i, j = np.clip(((point + half) / (2 * half) * n).astype(int), 0, n - 1)
        return int(i), int(j)

    def _path_direction(
        self,
        position: np.ndarray,
        goal: np.ndarray,
        centres: np.ndarray,
        radii: np.ndarray,
        half: float,
    ) -> np.ndarray:
        if _segment_clear(position, goal[None], centres, radii)[0]:
            return _unit(goal - position)
        if self.goal is None or np.abs(self.goal - goal).max() > 1e-4:
            self._plan(goal, centres, radii, half)
        field, n = self.field, self.field.shape[0]
        cell = self._cell(position, half, n)
        path = []
        for _ in range(12):  # walk down the field from the robot's cell
            i, j = cell
            options = [
                (field[i + di, j + dj], (i + di, j + dj))
                for di, dj in NEIGHBOURS
                if 0 <= i + di < n and 0 <= j + dj < n
            ]
            value, best = min(options)
            if not np.isfinite(value) or value >= field[cell]:
                break
            path.append(best)
            cell = best
        if not path:  # no way down (e.g. unreachable goal): go straight, the filter keeps it safe
            return _unit(goal - position)
        points = np.array([self.grid[c] for c in path])
        visible = np.flatnonzero(_segment_clear(position, points, centres, radii))
        target = points[visible[-1]] if len(visible) else points[0]
        return _unit(target - position)

    # -----------------------------------------------------------------------------------------

    def _action(
        self,
        velocity: np.ndarray,
        desired: np.ndarray,
        cap: float,
        robots: np.ndarray,
        contact: float,
    ) -> Any:
        """The action whose predicted next velocity is nearest `desired`, at most `cap` fast.

        Discrete actions also avoid, when they can, closing in on a robot (at `robots`,
        relative) that would then be nearer than `contact` plus a small buffer.
        """
        coast = (1.0 - DAMPING) * velocity  # the velocity next step without acceleration
        if self.directions is None:
            accel = np.clip((desired - coast) / (ACCEL * DT), -1.0, 1.0)
            predicted = coast + ACCEL * DT * accel
            speed = float(np.linalg.norm(predicted))
            if speed > cap:  # clipping bent the command: aim at the same heading, slower
                accel = np.clip((predicted * (cap / speed) - coast) / (ACCEL * DT), -1.0, 1.0)
            return accel.astype(np.float32)
        predicted = coast + ACCEL * DT * self.directions  # one row per discrete action
        error = np.linalg.norm(predicted - desired, axis=1)
        excess = np.maximum(np.linalg.norm(predicted, axis=1) - cap, 0.0)
        penalty = error + 10.0 * excess
        if len(robots):  # others assumed still: where would they be relative to us next step?
            now = np.linalg.norm(robots, axis=1)
            then = np.linalg.norm(robots[None] - DT * predicted[:, None], axis=2)
            penalty += 100.0 * ((then < contact + 0.02) & (then < now)).any(axis=1)
        return np.int64(np.argmin(penalty))


class UnsafeNavigator(SafeNavigator):
    """Straight at the goal, through hazards and other robots (a known-unsafe reference)."""

    Config = UnsafeNavigatorConfig
