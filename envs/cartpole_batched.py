"""`gym/CartPole-v1` as a native batched env: N copies of Gymnasium's CartPole stepped with
NumPy at once.

`CartPoleBatched` implements the `VecEnv` protocol of `testbed/rollout/vector.py` for
`envs/gymnasium_single.py:cartpole_v1` (its physics parameters included). The state of every
copy is one (N, 4) float64 array; a step is Gymnasium's Euler update written over arrays, with
its operations in the same order, so the numbers are the same to the last bit (NumPy's cos and
sin equal `math`'s on the test machines; the test would show it if they did not).

What it reproduces
    Exactly what `SyncVecEnv(lambda: cartpole_v1(...), num_envs, max_steps)` gives for the same
    root seed and actions: observations (float32), rewards (1 per step), terminated (the cart
    leaves [-2.4, 2.4] or the pole passes 12 degrees), truncated (the time limit,
    `max_episode_steps`, default 500, and a train stage's `max_steps`), `done`, the final
    observations, and the auto-resets (episode `e` of copy `c` starts from
    `default_rng(copy_seed(seed, c, e)).uniform(-0.05, 0.05, 4)`, Gymnasium's reset).
    Tested step by step against `SyncVecEnv` (tests/envs/test_batched_custom_envs.py).

Cost
    A step is about twenty array operations whatever N; the only per-copy Python work is
    seeding the copies that reset (one Generator each, about 20 microseconds).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from testbed.envs.gymnasium_single import AGENT, cartpole_v1
from testbed.rollout.vector import Batch, VecObs, VecStep, copy_seed


class CartPoleBatched:
    """`num_envs` copies of CartPole-v1 (see the module docstring). `render_mode` is accepted
    (the single env's parameter) but the batched env does not render."""

    metadata = {"name": "gym/CartPole-v1", "render_modes": [], "is_parallelizable": True}

    def __init__(
        self,
        num_envs: int,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        gravity: float = 9.8,
        length: float = 0.5,
        masspole: float = 0.1,
        masscart: float = 1.0,
        force_mag: float = 10.0,
        max_steps: int | None = None,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        # The single env checks the parameters and holds the spaces and constants.
        single = cartpole_v1(max_episode_steps, None, gravity, length, masspole, masscart,
                             force_mag)  # fmt: skip
        physics = single.env.unwrapped
        self.gravity, self.length, self.masspole = physics.gravity, physics.length, physics.masspole
        self.total_mass, self.force_mag = physics.total_mass, physics.force_mag
        self.polemass_length, self.tau = physics.polemass_length, physics.tau
        self.x_threshold = physics.x_threshold
        self.theta_threshold = physics.theta_threshold_radians
        if physics.kinematics_integrator != "euler":
            raise ValueError("the batched CartPole implements Gymnasium's Euler integrator only")
        self.time_limit = single.env.spec.max_episode_steps
        self._observation_space = single.observation_space(AGENT)
        self._action_space = single.action_space(AGENT)
        single.close()
        self.num_envs = num_envs
        self.max_steps = max_steps
        self.possible_agents = [AGENT]
        self.state = np.zeros((num_envs, 4))
        self._lengths = np.zeros(num_envs, np.int64)
        self._episodes = np.zeros(num_envs, np.int64)
        self._seed = 0

    def observation_space(self, agent: str) -> Any:
        return self._observation_space

    def action_space(self, agent: str) -> Any:
        return self._action_space

    def _reset_copies(self, copies: np.ndarray) -> None:
        for c in copies:
            rng = np.random.default_rng(copy_seed(self._seed, int(c), int(self._episodes[c])))
            self.state[c] = rng.uniform(low=-0.05, high=0.05, size=(4,))
            self._episodes[c] += 1
        self._lengths[copies] = 0

    def _observe(self) -> VecObs:
        return VecObs({AGENT: self.state.astype(np.float32)}, {AGENT: None})

    def reset(self, seed: int) -> VecObs:
        self._seed = seed
        self._episodes[:] = 0
        self._reset_copies(np.arange(self.num_envs))
        return self._observe()

    def step(self, actions: Batch) -> VecStep:
        action = np.asarray(actions[AGENT]).reshape(-1)
        integral = np.issubdtype(action.dtype, np.integer)  # as Discrete(2).contains
        if action.shape != (self.num_envs,) or not integral or not np.isin(action, (0, 1)).all():
            raise ValueError(
                f"CartPole actions must be 0 or 1, one per copy ({self.num_envs}); got {action}"
            )
        x, x_dot, theta, theta_dot = self.state.T
        force = np.where(action == 1, self.force_mag, -self.force_mag)
        costheta, sintheta = np.cos(theta), np.sin(theta)
        temp = (force + self.polemass_length * theta_dot**2 * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta**2 / self.total_mass)
        )
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        self.state = np.stack(
            (x + self.tau * x_dot, x_dot + self.tau * xacc, theta + self.tau * theta_dot,
             theta_dot + self.tau * thetaacc), axis=1,
        )  # fmt: skip
        self._lengths += 1
        x, theta = self.state[:, 0], self.state[:, 2]
        terminated = (
            (x < -self.x_threshold)
            | (x > self.x_threshold)
            | (theta < -self.theta_threshold)
            | (theta > self.theta_threshold)
        )
        truncated = np.zeros(self.num_envs, bool)
        if self.time_limit is not None:
            truncated |= self._lengths >= self.time_limit
        if self.max_steps is not None:
            truncated |= (self._lengths >= self.max_steps) & ~terminated
        done = terminated | truncated
        final = self._observe()
        if done.any():
            self._reset_copies(np.flatnonzero(done))
        obs = self._observe()
        return VecStep(
            obs.observations, obs.action_masks, {AGENT: np.ones(self.num_envs)},
            {AGENT: np.zeros(self.num_envs)}, {AGENT: terminated}, {AGENT: truncated}, done,
            final,
        )  # fmt: skip

    def close(self) -> None:
        pass


def cartpole_batched(
    num_envs: int,
    max_episode_steps: int | None = None,
    render_mode: str | None = None,
    gravity: float = 9.8,
    length: float = 0.5,
    masspole: float = 0.1,
    masscart: float = 1.0,
    force_mag: float = 10.0,
    max_steps: int | None = None,
) -> CartPoleBatched:
    """`num_envs` copies of `gym/CartPole-v1`, batched (see the module docstring)."""
    return CartPoleBatched(num_envs, max_episode_steps, render_mode, gravity, length, masspole,
                           masscart, force_mag, max_steps)  # fmt: skip
