"""Constrained multi-robot navigation in a 2-D arena: `testbed/safe_navigation_v0`.

`n_agents` disc robots (radius `robot_radius`) in a square arena of side `arena_size`, centred
on the origin, each drive to their own goal while circular hazard zones and the other robots
should be avoided. Reaching the goal is rewarded; entering a hazard, coming too close to another
robot and driving too fast are costs, reported apart so that safe-RL methods and audits can
constrain each one.

Agents
    `robot_0` ... `robot_{n_agents-1}` (default 3), all acting at once (ParallelEnv). A robot
    that reaches its goal terminates and leaves the arena (it no longer collides).

Actions (acceleration commands)
    `continuous_actions=False` (default, as in PettingZoo MPE): Discrete(`discrete_directions`),
    5 (0 none, then east, north, west, south) or 9 (0 none, then the 8 compass directions
    counter-clockwise from east) full accelerations of unit length. `True`: Box(-1, 1, (2,),
    float32), the (x, y) acceleration as a fraction of ACCEL.

Dynamics (per step, DT = 0.1 s; vectorised over all robots)
    `v <- (1 - DAMPING) v + ACCEL * DT * a` with DAMPING = 0.1 and ACCEL = 2.0, the speed then
    capped at `max_speed`; `p <- p + DT v`; the arena walls stop a robot (the velocity component
    into the wall is zeroed). Robots pass through hazards and each other: closeness only costs.

Observations
    Box(-B, B, (9 + 7 * (n_hazards + n_agents - 1),), float32), B = max(arena_size,
    2 * max_speed), in world units: own position (2), own velocity (2), goal minus position
    (2), own radius (1), `speed_limit` (1), half the arena size (1, the walls are at +-it);
    then one 7-float row per entity, the hazards first,
    then the other robots by index: (relative x, relative y, velocity x, velocity y, radius,
    is hazard, is robot). A robot that has left the arena is a row of zeros.

Rewards
    Progress: the decrease of the distance to the goal this step (so an episode that reaches the
    goal earns about the start distance, 1.36 on average with the defaults), plus `goal_bonus`
    (1.0) on the step the robot's centre comes within `goal_radius` of its goal.

Costs (every step, for every live robot)
    `infos[a]["costs"]` = {"hazard": 1.0 if the robot's centre is inside a hazard,
    "collision": 1.0 if its centre is closer than 2 * robot_radius to another live robot,
    "speed": 1.0 if its speed exceeds `speed_limit`}, each else 0.0; `infos[a]["cost"]` =
    `hazard_weight * hazard + collision_weight * collision + speed_weight * speed`. An episode's
    cost is its number of violating steps (with unit weights).

Episode end
    A robot terminates on reaching its goal; the rest are truncated after `max_cycles` steps.

Reset
    Hazard centres uniform in the middle 60% of the arena; starts and goals uniform, with at
    least 0.15 between the robot's body and every hazard's edge, starts (and goals) at least 4
    robot radii apart, each goal at least `arena_size / 2` from its start.

What good play scores (defaults, 3 robots; 200 episodes, seeds 0-199, each robot's episode
one sample, from `benchmarks/scripted_baselines.py`: return, share of robots that reach their
goal, episode cost: mean, share of episodes with cost > 0 and > 5)
    discrete (default):
      `random`: 0.66, 18%, cost 58.9 (hazard 18.2, collision 2.5, speed 38.2), 100%, 100%.
      `scripted/safe_navigator` (margin 0.1): 2.31, 98%, cost 0.007, 0.3%, 0% (once in 200
      episodes two robots met head-on in a one-lane passage and touched for 2 steps).
      `scripted/unsafe_navigator` (straight line): 2.36, 100%, cost 6.3 (hazard 5.6, collision
      0.6), 57%, 46%.
    continuous: `random` 0.59, 15%, cost 43.9, 100%, 99%; `scripted/safe_navigator` 2.33,
      98%, cost 0, 0%, 0%; `scripted/unsafe_navigator` 2.36, 100%, cost 5.3, 56%, 44%.
    The best possible return is the start distance + 1 (2.36 on average): the safe navigator
    gives up 2% of it for zero cost.

Performance
    Physics, costs (pairwise distances by broadcasting) and observations are NumPy over all
    robots at once: 20k-26k env steps/s with 3 robots and random actions, 4.5-5.3x PettingZoo
    MPE simple_spread_v3 measured alongside (`benchmarks/env_speed.py`).

Rendering
    "rgb_array": a 400x400 uint8 frame: hazards red, goals as rings and robots as discs in the
    robot's colour, a black outline on a robot that paid a cost this step.

Version history
    v0: first version.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from testbed.envs import _raster

DT, DAMPING, ACCEL = 0.1, 0.1, 2.0
COST_NAMES = ("hazard", "collision", "speed")
FRAME_PX = 400
_DIAG = np.sqrt(0.5)
DIRECTIONS = {
    5: np.array([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.float64),
    9: np.array(
        [
            [0, 0],
            [1, 0],
            [_DIAG, _DIAG],
            [0, 1],
            [-_DIAG, _DIAG],
            [-1, 0],
            [-_DIAG, -_DIAG],
            [0, -1],
            [_DIAG, -_DIAG],
        ],
        dtype=np.float64,
    ),
}
"""Unit acceleration of each discrete action."""


class SafeNavigationEnv(ParallelEnv):
    """Robots reach goals among hazards, with hazard, collision and speed costs."""

    metadata = {
        "name": "safe_navigation_v0",
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
        "render_fps": 10,
    }

    def __init__(
        self,
        n_agents: int = 3,
        n_hazards: int = 3,
        arena_size: float = 2.0,
        max_cycles: int = 200,
        continuous_actions: bool = False,
        discrete_directions: int = 9,
        hazard_radius: float = 0.25,
        robot_radius: float = 0.05,
        goal_radius: float = 0.1,
        max_speed: float = 1.0,
        speed_limit: float = 0.5,
        hazard_weight: float = 1.0,
        collision_weight: float = 1.0,
        speed_weight: float = 1.0,
        goal_bonus: float = 1.0,
        render_mode: str | None = None,
    ):
        if n_agents < 1 or n_hazards < 0 or max_cycles < 1:
            raise ValueError("need n_agents >= 1, n_hazards >= 0, max_cycles >= 1")
        if discrete_directions not in DIRECTIONS:
            raise ValueError(f"discrete_directions must be 5 or 9, got {discrete_directions}")
        if not 0 < robot_radius < arena_size / 8 or not 0 < hazard_radius < arena_size / 4:
            raise ValueError("need 0 < robot_radius < arena_size/8, 0 < hazard_radius < arena/4")
        if not 0 < speed_limit <= max_speed or goal_radius <= 0:
            raise ValueError("need 0 < speed_limit <= max_speed and goal_radius > 0")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.n_agents, self.n_hazards, self.max_cycles = n_agents, n_hazards, max_cycles
        self.arena_size, self.half = float(arena_size), float(arena_size) / 2
        self.continuous_actions, self.discrete_directions = continuous_actions, discrete_directions
        self.hazard_radius, self.robot_radius = float(hazard_radius), float(robot_radius)
        self.goal_radius, self.goal_bonus = float(goal_radius), float(goal_bonus)
        self.max_speed, self.speed_limit = float(max_speed), float(speed_limit)
        self.weights = np.array([hazard_weight, collision_weight, speed_weight], dtype=np.float64)
        self.render_mode = render_mode
        self.possible_agents = [f"robot_{i}" for i in range(n_agents)]
        self.agents: list[str] = []

        bound = max(self.arena_size, 2 * self.max_speed)
        self._obs_size = 9 + 7 * (n_hazards + n_agents - 1)
        obs_space = spaces.Box(-bound, bound, (self._obs_size,), np.float32)
        if continuous_actions:
            act_space: spaces.Space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        else:
            act_space = spaces.Discrete(discrete_directions)
        self._obs_spaces = {a: obs_space for a in self.possible_agents}
        self._act_spaces = {a: act_space for a in self.possible_agents}
        self._directions = DIRECTIONS[discrete_directions]
        # others[i] = indices of the other robots as robot i sees them (in index order).
        self._others = np.array(
            [[j for j in range(n_agents) if j != i] for i in range(n_agents)], dtype=np.int64
        ).reshape(n_agents, n_agents - 1)
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self._wall = self.half - self.robot_radius  # where a robot's centre is stopped
        self._template = np.zeros((n_agents, self._obs_size), dtype=np.float32)
        self._template[:, 6:9] = self.robot_radius, self.speed_limit, self.half
        hazard_rows = self._template[:, 9 : 9 + 7 * n_hazards].reshape(n_agents, n_hazards, 7)
        hazard_rows[:, :, 4:6] = self.hazard_radius, 1.0

        self._pos = np.zeros((n_agents, 2))
        self._vel = np.zeros((n_agents, 2))
        self._goal = np.zeros((n_agents, 2))
        self._hazards = np.zeros((n_hazards, 2))
        self._alive = np.zeros(n_agents, dtype=bool)
        self._dist = np.zeros(n_agents)
        self._as_seen = np.zeros((n_agents, 7))
        self._last_costs = np.zeros((n_agents, 3))
        self._t = 0
        self._rng = np.random.default_rng(0)
        self._place()  # fail now, not at the first reset, if robots cannot be placed
        self._rng = np.random.default_rng()

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    # -----------------------------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._place()
        self.place(self._pos, self._goal)
        self._t = 0
        infos = {a: {"cost": 0.0, "costs": dict.fromkeys(COST_NAMES, 0.0)} for a in self.agents}
        return self.observe(), infos

    def _place(self) -> None:
        rng, half, r = self._rng, self.half, self.robot_radius
        self._hazards = rng.uniform(-0.6 * half, 0.6 * half, size=(self.n_hazards, 2))
        clear2 = (self.hazard_radius + r + 0.15) ** 2
        starts: list[np.ndarray] = []
        goals: list[np.ndarray] = []
        for _ in range(100):  # batches of candidate (start, goal) pairs, filtered at once
            pairs = rng.uniform(-half + 2 * r, half - 2 * r, size=(64, 2, 2))
            gap2 = ((pairs[:, :, None, :] - self._hazards) ** 2).sum(axis=3)  # (64, 2, hazards)
            ok = ~(gap2 < clear2).any(axis=(1, 2))
            ok &= ((pairs[:, 1] - pairs[:, 0]) ** 2).sum(axis=1) >= half**2
            for start, goal in pairs[ok]:
                if starts and (
                    np.hypot(*(np.array(starts) - start).T).min() < 4 * r
                    or np.hypot(*(np.array(goals) - goal).T).min() < 4 * r
                ):
                    continue
                starts.append(start)
                goals.append(goal)
                if len(starts) == self.n_agents:
                    self._pos, self._goal = np.array(starts), np.array(goals)
                    return
        raise ValueError("could not place starts and goals clear of hazards; fewer hazards?")

    def place(
        self,
        positions: np.ndarray,
        goals: np.ndarray | None = None,
        hazards: np.ndarray | None = None,
        velocities: np.ndarray | None = None,
    ) -> None:
        """Set robot positions (n, 2) and optionally goals, hazard centres and velocities.

        For tests and scripted situations, called after `reset`; every robot is live again.
        """
        self._pos = np.array(positions, dtype=np.float64).reshape(self.n_agents, 2)
        if goals is not None:
            self._goal = np.array(goals, dtype=np.float64).reshape(self.n_agents, 2)
        if hazards is not None:
            self._hazards = np.array(hazards, dtype=np.float64).reshape(self.n_hazards, 2)
        self._vel = np.zeros((self.n_agents, 2))
        if velocities is not None:
            self._vel[:] = np.array(velocities, dtype=np.float64).reshape(self.n_agents, 2)
        self._alive[:] = True
        self._as_seen[:] = 0.0  # each robot as the others see it: (0, 0, velocity, radius, 0, 1)
        self._as_seen[:, 4] = self.robot_radius
        self._as_seen[:, 6] = 1.0
        self._dist = np.linalg.norm(self._goal - self._pos, axis=1)
        self._last_costs[:] = 0.0
        self.agents = list(self.possible_agents)

    def observe(self) -> dict[str, np.ndarray]:
        """The live robots' current observations (as `reset` and `step` return them)."""
        observations = self._observations(self._relative())
        return {a: observations[self._index[a]] for a in self.agents}

    def step(self, actions: dict):
        agents = self.agents
        live = np.fromiter((self._index[a] for a in agents), np.int64, len(agents))
        accel = np.zeros((self.n_agents, 2))  # robots that left stay at rest
        if self.continuous_actions:
            command = np.array([actions[a] for a in agents], dtype=np.float64)
            accel[live] = np.minimum(np.maximum(command, -1.0), 1.0)
        else:
            accel[live] = self._directions[np.array([actions[a] for a in agents], dtype=np.int64)]

        # Physics for all robots at once.
        vel = (1.0 - DAMPING) * self._vel + (ACCEL * DT) * accel
        speed = np.hypot(vel[:, 0], vel[:, 1])
        if (speed > self.max_speed).any():
            vel *= np.minimum(1.0, self.max_speed / np.maximum(speed, 1e-12))[:, None]
        pos = self._pos + DT * vel
        wall = np.abs(pos) > self._wall
        if wall.any():
            pos = np.minimum(np.maximum(pos, -self._wall), self._wall)
            vel[wall] = 0.0
        self._pos, self._vel = pos, vel

        # Rewards and costs.
        alive = self._alive
        to_goal = self._goal - pos
        dist = np.hypot(to_goal[:, 0], to_goal[:, 1])
        reached = alive & (dist < self.goal_radius)
        reward = self._dist - dist + self.goal_bonus * reached
        self._dist = dist
        others, hazards = self._relative()
        costs = np.empty((self.n_agents, 3))
        inside = np.hypot(hazards[..., 0], hazards[..., 1]) < self.hazard_radius
        costs[:, 0] = np.logical_or.reduce(inside, axis=1)
        touching = np.hypot(others[..., 0], others[..., 1]) < 2 * self.robot_radius
        costs[:, 1] = np.logical_or.reduce(touching & alive[self._others], axis=1)
        costs[:, 2] = np.hypot(vel[:, 0], vel[:, 1]) > self.speed_limit
        costs *= alive[:, None]
        self._last_costs = costs
        cost = costs @ self.weights

        self._t += 1
        truncated = self._t >= self.max_cycles
        if reached.any():  # a robot at its goal leaves the arena
            self._alive = alive & ~reached
            self._vel[reached] = 0.0
            self._as_seen *= self._alive[:, None]
        observations = self._observations((others, hazards))
        reward_list, cost_list, costs_list = reward.tolist(), cost.tolist(), costs.tolist()
        reached_list = reached.tolist()
        obs, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        for agent, i in zip(agents, live.tolist(), strict=True):
            obs[agent] = observations[i]
            rewards[agent] = reward_list[i]
            terminations[agent] = reached_list[i]
            truncations[agent] = truncated
            hazard, collision, fast = costs_list[i]
            infos[agent] = {
                "cost": cost_list[i],
                "costs": {"hazard": hazard, "collision": collision, "speed": fast},
            }
        self.agents = [] if truncated else [a for a in agents if not terminations[a]]
        return obs, rewards, terminations, truncations, infos

    def _relative(self) -> tuple[np.ndarray, np.ndarray]:
        """(other robot - robot) and (hazard - robot) vectors: (n, n-1, 2) and (n, h, 2)."""
        pos = self._pos
        return pos[self._others] - pos[:, None, :], self._hazards - pos[:, None, :]

    def _observations(self, relative: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """One row per robot (also for robots that left; the caller picks the live ones)."""
        others, hazards = relative
        n, h = self.n_agents, self.n_hazards
        obs = self._template.copy()  # the constant parts
        obs[:, 0:2] = self._pos
        obs[:, 2:4] = self._vel
        obs[:, 4:6] = self._goal - self._pos
        rows = obs[:, 9:].reshape(n, h + n - 1, 7)
        rows[:, :h, 0:2] = hazards
        self._as_seen[:, 2:4] = self._vel  # zero for robots that left
        seen = self._as_seen[self._others]  # (robot, other, 7)
        seen[..., 0:2] = others * seen[..., 6:7]
        rows[:, h:] = seen
        return obs

    # -----------------------------------------------------------------------------------------

    def render(self):
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode=...")
            return None
        scale = FRAME_PX / self.arena_size

        def pixel(xy: np.ndarray) -> tuple[float, float]:  # world (x, y) -> frame (row, col)
            return (self.half - xy[1]) * scale, (xy[0] + self.half) * scale

        frame = _raster.canvas(FRAME_PX, FRAME_PX, (250, 250, 250))
        for centre in self._hazards:
            _raster.fill_disc(frame, *pixel(centre), self.hazard_radius * scale, (220, 60, 60), 0.4)
            _raster.ring(frame, *pixel(centre), self.hazard_radius * scale, 2, (200, 40, 40))
        body = max(self.robot_radius * scale, 3.0)
        for i in range(self.n_agents):
            color = tuple(int(c) for c in _raster.PALETTE[i % len(_raster.PALETTE)])
            _raster.ring(frame, *pixel(self._goal[i]), max(self.goal_radius * scale, 4), 2, color)
            if self._alive[i]:
                _raster.fill_disc(frame, *pixel(self._pos[i]), body, color)
                if self._last_costs[i].any():
                    _raster.ring(frame, *pixel(self._pos[i]), body + 2, 2, (0, 0, 0))
        frame[[0, -1], :] = (60, 60, 60)
        frame[:, [0, -1]] = (60, 60, 60)
        return frame

    def close(self) -> None:
        pass


def parallel_env(
    n_agents: int = 3,
    n_hazards: int = 3,
    arena_size: float = 2.0,
    max_cycles: int = 200,
    continuous_actions: bool = False,
    discrete_directions: int = 9,
    hazard_radius: float = 0.25,
    robot_radius: float = 0.05,
    goal_radius: float = 0.1,
    max_speed: float = 1.0,
    speed_limit: float = 0.5,
    hazard_weight: float = 1.0,
    collision_weight: float = 1.0,
    speed_weight: float = 1.0,
    goal_bonus: float = 1.0,
    render_mode: str | None = None,
) -> SafeNavigationEnv:
    """Build `testbed/safe_navigation_v0` (parameters as in the module docstring)."""
    return SafeNavigationEnv(
        n_agents=n_agents,
        n_hazards=n_hazards,
        arena_size=arena_size,
        max_cycles=max_cycles,
        continuous_actions=continuous_actions,
        discrete_directions=discrete_directions,
        hazard_radius=hazard_radius,
        robot_radius=robot_radius,
        goal_radius=goal_radius,
        max_speed=max_speed,
        speed_limit=speed_limit,
        hazard_weight=hazard_weight,
        collision_weight=collision_weight,
        speed_weight=speed_weight,
        goal_bonus=goal_bonus,
        render_mode=render_mode,
    )
