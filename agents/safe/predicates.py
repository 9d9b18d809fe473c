"""Safety predicates for the Shield: `f(observation, action, action_space) -> bool` (True =
safe), and action distances `d(a, b, action_space) -> float` for its fallback search.

`testbed/safe_navigation_v0` (see its module docstring for the observation layout and the
dynamics `v' = 0.9 v + 0.2 a`, `p' = p + 0.1 v'`, a wall zeroes the velocity component into
it): everything the prediction needs is in the observation (own position and velocity,
radius, speed limit, half arena size, hazard centres relative to the robot and their radii).
Only `max_speed` (the env's speed cap) is missing, and not needed: a next speed above
`speed_limit` is rejected anyway.

`safe_navigation_hazards` accepts an action a when, from the predicted next state (p', v'),
  1. |v'| <= speed_limit (no speed cost), and
  2. the coasting path from p' (zero acceleration from then on: p' + 0.9 v' + 0.81 v' ...
     = the segment from p' to p' + 9 DT v', bent along a wall where it meets one) stays
     outside every hazard (+ 1e-3 for float32 observations).
A one-step lookahead alone is too myopic with momentum (a robot can be a step from a hazard
with no action left that avoids it). With the coasting check, the zero action after an
accepted action is always accepted again (its coasting path is the rest of the same path), so
a robot that starts at rest outside hazards has a safe action at every step: a Shield with
this predicate (whose candidates always include the zero action) guarantees zero hazard and
speed cost. The collision cost is not covered.

`safe_navigation` also rejects an action after which the robot would be within 2 radii + 0.02
of another robot (moving at its current, damped, velocity) and not farther from it than now:
near another robot, a robot must move apart, so two robots that touch separate instead of
waiting in contact (the zero action keeps the distance). Others' next accelerations are
unknown (each can move their next position by up to 0.02), so this part is a heuristic, not a
guarantee; when no action passes, the Shield falls back to the zero action.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from testbed.envs.safe_navigation import ACCEL, DAMPING, DIRECTIONS, DT

HEADER, ROW = 9, 7
MARGIN = 1e-3  # float32 observations: keep a little clear of the hazard edge
ROBOT_MARGIN = 0.02  # worst-case shift of another robot's next position by its own action
PARTING = 1e-6  # the least gain in distance that counts as moving apart
COAST = (1.0 - DAMPING) / DAMPING  # sum_{k>=1} 0.9^k = 9: the coasting path is 9 DT v long


def _acceleration(action: Any, action_space: spaces.Space) -> np.ndarray:
    if isinstance(action_space, spaces.Discrete):
        return DIRECTIONS[int(action_space.n)][int(action) - int(action_space.start)]
    return np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)


def _next_state(obs: np.ndarray, action: Any, action_space: spaces.Space):
    """(p', v') after `action`, positions relative to the robot's current position."""
    pos, vel, wall = obs[0:2], obs[2:4], float(obs[8]) - float(obs[6])
    vel = (1.0 - DAMPING) * vel + ACCEL * DT * _acceleration(action, action_space)
    nxt = pos + DT * vel
    hit = np.abs(nxt) > wall
    return np.clip(nxt, -wall, wall) - pos, np.where(hit, 0.0, vel), wall


def _coasting_path(pos: np.ndarray, start: np.ndarray, vel: np.ndarray, wall: float):
    """Vertices of the coasting path from `start` (relative to `pos`): each coordinate moves
    on independently until it meets its wall, so the path is clip(start + t v), t in [0, 9 DT],
    linear between the times a coordinate meets a wall."""
    end = COAST * DT
    times = [0.0, end]
    for axis in range(2):
        if abs(vel[axis]) > 1e-12:
            t = ((wall if vel[axis] > 0 else -wall) - pos[axis] - start[axis]) / vel[axis]
            if 0.0 < t < end:
                times.append(t)
    times.sort()
    return [np.clip(pos + start + t * vel, -wall, wall) - pos for t in times]


def _segment_gap(a: np.ndarray, b: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Distance from each centre to the segment a-b."""
    seg = b - a
    t = np.clip(((centres - a) @ seg) / max(float(seg @ seg), 1e-12), 0.0, 1.0)
    return np.hypot(*(a + t[:, None] * seg - centres).T)


def safe_navigation_hazards(observation: Any, action: Any, action_space: spaces.Space) -> bool:
    """Within the speed limit next step, and the coasting path from there avoids hazards."""
    obs = np.asarray(observation, dtype=np.float64)
    start, vel, wall = _next_state(obs, action, action_space)
    if float(np.hypot(*vel)) > float(obs[7]) - 1e-6:
        return False
    rows = obs[HEADER:].reshape(-1, ROW)
    hazards = rows[rows[:, 5] > 0]
    if not len(hazards):
        return True
    centres, radii = hazards[:, :2], hazards[:, 4] + MARGIN
    path = _coasting_path(obs[0:2], start, vel, wall)
    return all(
        bool((_segment_gap(a, b, centres) >= radii).all())
        for a, b in zip(path[:-1], path[1:], strict=True)
    )


def safe_navigation(observation: Any, action: Any, action_space: spaces.Space) -> bool:
    """`safe_navigation_hazards`, and clear of the other robots next step (a heuristic)."""
    if not safe_navigation_hazards(observation, action, action_space):
        return False
    obs = np.asarray(observation, dtype=np.float64)
    rows = obs[HEADER:].reshape(-1, ROW)
    robots = rows[rows[:, 6] > 0]
    if not len(robots):
        return True
    start, _, _ = _next_state(obs, action, action_space)
    others = robots[:, :2] + DT * (1.0 - DAMPING) * robots[:, 2:4]
    gap = np.hypot(*(others - start).T)
    close = gap < robots[:, 4] + float(obs[6]) + ROBOT_MARGIN
    # not moving apart: nearer than now, or as near (two robots at rest in contact would
    # otherwise keep the zero action forever and pay the collision cost every step)
    not_parting = gap < np.hypot(*robots[:, :2].T) + PARTING
    return not bool((close & not_parting).any())


def safe_navigation_distance(a: Any, b: Any, action_space: spaces.Space) -> float:
    """Distance between the accelerations two actions command (Discrete or Box)."""
    return float(np.hypot(*(_acceleration(a, action_space) - _acceleration(b, action_space))))
