"""`testbed/safe_navigation_v0` as a native batched env: N copies stepped with NumPy at once.

`SafeNavigationBatched` implements the `VecEnv` protocol of `testbed/rollout/vector.py` for
`envs/safe_navigation.py`, discrete and continuous actions. The state of every copy lives in
arrays with the copy axis first (positions, velocities, goals `(N, n, 2)`, hazards
`(N, h, 2)`, which robots are live) and a step is the single env's physics, rewards, costs
(hazard, collision, speed, weighted) and observations as array operations over all copies
and robots at once: there is no loop over copies, robots or hazards in `step` (except the
auto-resets' seeding, below).

What it reproduces
    Exactly what `SyncVecEnv(lambda: parallel_env(...), num_envs, max_steps)` gives for the
    same root seed and actions: observations, rewards, costs (the weighted total
    `infos[a]["cost"]` per robot and copy; the parts are not returned), terminated,
    truncated, `done`, the final observations, and the auto-reset of a copy whose episode
    ended (episode `e` of copy `c` seeded `copy_seed(seed, c, e)`). The step draws no random
    numbers; its arithmetic is the single env's, operation for operation (e.g. the speed cap
    is applied to every robot, which multiplies the uncapped ones by exactly 1.0).

Robots leave mid-episode
    A robot that reaches its goal terminates and leaves, so not every agent acts until the
    episode ends, which vectorized training needs. This env does what the single env under
    `SyncVecEnv` does: on the step a robot reaches its goal it is reported (terminated, goal
    reward, its last observation); on the next step, if the copy's episode ends then (time
    limit, `max_steps`, or every other robot reached its goal too), the robot that left gets
    reward 0, cost 0, terminated False, truncated only by `max_steps`, and a final observation
    of zeros; if the episode goes on, `step` raises the same AgentsLeft as `SyncVecEnv` ("use
    num_envs: 1"). With one robot, or when all robots reach their goals on the same step,
    episodes end normally. So multi-robot vectorized training of this env only runs while no
    robot reaches its goal before its episode's last step.

Randomness (resets)
    The single env's reset draws hazards and then batches of candidate starts and goals until
    enough are accepted, a variable number of draws from `np.random.default_rng(seed)`. To
    reproduce it draw for draw, each copy being reset gets its Generator and is placed by the
    single env's own placement code (`SafeNavigationEnv._place` on a private instance): a
    loop over the copies that are reset, about 100 microseconds of CPU per reset copy on the
    2-core test machine (seeding ~20: `copy_seed` and `default_rng`; the placement ~75),
    i.e. 0.5 microsecond per copy-step with 200-step episodes (a fifth of the time at
    N=256: 0.43 ms per step without resets, 0.55 ms with) but several when a policy reaches
    its goal fast. That is the only per-copy Python work.

Tested by `tests/envs/test_batched_custom_envs.py` (step by step against `SyncVecEnv` over
several episodes per copy: discrete 5 and 9 directions, continuous, weighted costs, one and
several robots, goals reached, the AgentsLeft error, `max_steps`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from testbed.envs.safe_navigation import ACCEL, DAMPING, DT, SafeNavigationEnv
from testbed.rollout.vector import AgentsLeft, Batch, VecObs, VecStep, copy_seed


class SafeNavigationBatched:
    """`num_envs` copies of constrained multi-robot navigation; see the module docstring.

    `render_mode` is accepted (the single env's parameters) but the batched env does not
    render. `max_steps` cuts every episode after that many steps, as `SyncVecEnv` does.
    """

    metadata = {"name": "safe_navigation_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(
        self,
        num_envs: int,
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
        max_steps: int | None = None,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        # The single env checks the parameters, holds the constants and places the resets.
        self.single = single = SafeNavigationEnv(
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
        self.num_envs, self.max_steps, self.render_mode = num_envs, max_steps, render_mode
        self.possible_agents = list(single.possible_agents)
        self.n_agents, self.n_hazards, self.max_cycles = n_agents, n_hazards, max_cycles
        self.continuous_actions = continuous_actions
        self.hazard_radius, self.robot_radius = single.hazard_radius, single.robot_radius
        self.goal_radius, self.goal_bonus = single.goal_radius, single.goal_bonus
        self.max_speed, self.speed_limit = single.max_speed, single.speed_limit
        self.weights = single.weights
        self._directions = single._directions
        self._others = single._others  # (robot, other robots in index order)
        self._wall = single._wall
        self._template = single._template  # (robot, obs): the constant parts

        n, k = num_envs, n_agents
        self._pos = np.zeros((n, k, 2))
        self._vel = np.zeros((n, k, 2))
        self._goal = np.zeros((n, k, 2))
        self._hazards = np.zeros((n, n_hazards, 2))
        self._alive = np.zeros((n, k), dtype=bool)
        self._dist = np.zeros((n, k))
        self._as_seen = np.zeros((n, k, 7))  # each robot as the others see it
        self._seen_template = np.zeros(7)
        self._seen_template[4], self._seen_template[6] = self.robot_radius, 1.0
        self._t = np.zeros(n, dtype=np.int64)
        self._seed = 0
        self._episodes = np.zeros(n, np.int64)
        self._lengths = np.zeros(n, np.int64)

    def observation_space(self, agent: str) -> Any:
        return self.single.observation_space(agent)

    def action_space(self, agent: str) -> Any:
        return self.single.action_space(agent)

    # -----------------------------------------------------------------------------------------

    def reset(self, seed: int) -> VecObs:
        self._seed = int(seed)
        self._episodes[:] = 0
        copies = np.arange(self.num_envs)
        self._reset_copies(copies)
        obs = self._observations(copies, self._relative(copies))
        return VecObs(dict(zip(self.possible_agents, obs, strict=True)), self._no_masks())

    def _no_masks(self) -> dict[str, None]:
        return dict.fromkeys(self.possible_agents)

    def _reset_copies(self, copies: np.ndarray) -> None:
        """Start the next episode of these copies, placed as the single env places them."""
        for c in copies.tolist():  # the RNG draws: one Generator per reset
            rng = np.random.default_rng(copy_seed(self._seed, c, int(self._episodes[c])))
            self._hazards[c], self._pos[c], self._goal[c] = self._place(rng)
        goal, pos = self._goal[copies], self._pos[copies]
        self._dist[copies] = np.linalg.norm(goal - pos, axis=-1)
        self._episodes[copies] += 1
        self._lengths[copies] = 0
        self._t[copies] = 0
        self._vel[copies] = 0.0
        self._alive[copies] = True
        self._as_seen[copies] = self._seen_template

    def _place(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hazards, starts and goals of a reset, drawn from `rng` by the single env's own
        placement (`SafeNavigationEnv._place`; not its `reset`, which would also build the
        observations and infos)."""
        single = self.single
        single._rng = rng
        single._place()
        return single._hazards, single._pos, single._goal

    def _relative(self, copies: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        """(other robot - robot) and (hazard - robot): (c, n, n-1, 2) and (c, n, h, 2)."""
        pos = self._pos[copies]
        return (
            pos[:, self._others] - pos[:, :, None, :],
            self._hazards[copies][:, None, :, :] - pos[:, :, None, :],
        )

    def _observations(
        self, copies: np.ndarray | slice, relative: tuple[np.ndarray, np.ndarray]
    ) -> np.ndarray:
        """(robot, copy, obs) for these copies, also for robots that left (their caller's job)."""
        others, hazards = relative
        n, h = self.n_agents, self.n_hazards
        pos, vel = self._pos[copies], self._vel[copies]
        m = len(pos)
        obs = np.empty((n, m, self._template.shape[1]), dtype=np.float32)
        obs[:] = self._template[:, None, :]
        obs[:, :, 0:2] = pos.transpose(1, 0, 2)
        obs[:, :, 2:4] = vel.transpose(1, 0, 2)
        obs[:, :, 4:6] = (self._goal[copies] - pos).transpose(1, 0, 2)
        rows = obs[:, :, 9:].reshape(n, m, h + n - 1, 7)
        rows[:, :, :h, 0:2] = hazards.transpose(1, 0, 2, 3)
        as_seen = self._as_seen[copies]
        as_seen[:, :, 2:4] = vel  # zero for robots that left
        self._as_seen[copies] = as_seen
        seen = as_seen[:, self._others]  # (copy, robot, other, 7)
        seen[..., 0:2] = others * seen[..., 6:7]
        rows[:, :, h:] = seen.transpose(1, 0, 2, 3)
        return obs

    def step(self, actions: Batch) -> VecStep:
        n_envs, agents = self.num_envs, self.possible_agents
        present = self._alive  # the robots that act this step (the single env's `agents`)
        if self.continuous_actions:
            command = np.stack(
                [np.asarray(actions[a], dtype=np.float64).reshape(n_envs, 2) for a in agents],
                axis=1,
            )
            accel = np.minimum(np.maximum(command, -1.0), 1.0)
        else:
            act = np.stack([np.asarray(actions[a]).reshape(n_envs) for a in agents], axis=1)
            act = np.where(present, act.astype(np.int64), 0)
            accel = self._directions[act]
        accel[~present] = 0.0  # robots that left stay at rest

        # Physics for all copies and robots at once.
        vel = (1.0 - DAMPING) * self._vel + (ACCEL * DT) * accel
        speed = np.hypot(vel[..., 0], vel[..., 1])
        fast = speed > self.max_speed
        if fast.any():  # a factor of exactly 1.0 for the others, as in the single env
            vel *= np.minimum(1.0, self.max_speed / np.maximum(speed, 1e-12))[..., None]
        pos = self._pos + DT * vel
        wall = np.abs(pos) > self._wall
        if wall.any():
            pos = np.minimum(np.maximum(pos, -self._wall), self._wall)
            vel[wall] = 0.0
        self._pos, self._vel = pos, vel

        # Rewards and costs.
        to_goal = self._goal - pos
        dist = np.hypot(to_goal[..., 0], to_goal[..., 1])
        reached = present & (dist < self.goal_radius)
        reward = self._dist - dist + self.goal_bonus * reached
        self._dist = dist
        every = slice(None)
        others, hazards = relative = self._relative(every)
        costs = np.empty((n_envs, self.n_agents, 3))
        inside = np.hypot(hazards[..., 0], hazards[..., 1]) < self.hazard_radius
        costs[..., 0] = inside.any(axis=2)
        touching = np.hypot(others[..., 0], others[..., 1]) < 2 * self.robot_radius
        costs[..., 1] = (touching & present[:, self._others]).any(axis=2)
        costs[..., 2] = np.hypot(vel[..., 0], vel[..., 1]) > self.speed_limit
        costs *= present[..., None]
        cost = (costs.reshape(-1, 3) @ self.weights).reshape(n_envs, self.n_agents)

        self._t += 1
        self._lengths += 1
        timeout = self._t >= self.max_cycles
        alive = present & ~reached  # a robot at its goal leaves the arena
        self._alive = alive
        vel[reached] = 0.0
        self._as_seen *= alive[..., None]
        obs = self._observations(every, relative)

        # As SyncVecEnv sees it: robots that left before this step are absent (reward 0, ...).
        cut = (
            self._lengths >= self.max_steps
            if self.max_steps is not None
            else np.zeros(n_envs, dtype=bool)
        )
        terminated = reached
        truncated = (timeout[:, None] & present) | (cut[:, None] & ~terminated)
        ended = timeout | ~alive.any(axis=1) | cut
        absent = ~present
        if absent.any():
            stuck = absent.any(axis=1) & ~ended
            if stuck.any():
                row = [a for a, p in zip(agents, present[np.argmax(stuck)], strict=True) if p]
                raise AgentsLeft(
                    "vectorized training needs every agent to act until the episode ends; "
                    f"this env has {sorted(row)} of {self.possible_agents} (use num_envs: 1)"
                )
            obs[absent.T] = 0.0  # no last observation: SyncVecEnv fills in zeros
            reward = np.where(absent, 0.0, reward)
            cost = np.where(absent, 0.0, cost)

        observations = dict(zip(agents, obs, strict=True))
        final = VecObs(observations, self._no_masks())
        if ended.any():
            copies = np.flatnonzero(ended)
            self._reset_copies(copies)
            fresh = self._observations(copies, self._relative(copies))
            observations = {a: o.copy() for a, o in observations.items()}
            for i, a in enumerate(agents):
                observations[a][copies] = fresh[i]
        rewards = np.array(reward.T, np.float64, order="C")
        costs64 = np.array(cost.T, np.float64, order="C")
        return VecStep(
            observations,
            self._no_masks(),
            dict(zip(agents, rewards, strict=True)),
            dict(zip(agents, costs64, strict=True)),
            dict(zip(agents, np.ascontiguousarray(terminated.T), strict=True)),
            dict(zip(agents, np.ascontiguousarray(truncated.T), strict=True)),
            ended,
            final,
        )

    def close(self) -> None:
        pass


def safe_navigation_batched(
    num_envs: int,
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
    max_steps: int | None = None,
) -> SafeNavigationBatched:
    """`num_envs` copies of `testbed/safe_navigation_v0`, batched (see the module docstring)."""
    return SafeNavigationBatched(
        num_envs,
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
        max_steps=max_steps,
    )
