"""Continuous-action CartPole, `testbed/cartpole_continuous_v0`: gymnasium's CartPole physics
(Barto, Sutton & Anderson 1983) with a force in [-force_mag, force_mag], as in mbrl-lib's
`cartpole_continuous` used by its PETS example (Chua et al. 2018).

Agents
    `agent_0` (one agent, ParallelEnv).

Actions
    Box(-1, 1, (1,), float32): the force is `force_mag * action` (default force_mag 10).

Observations
    Box((4,), float32): cart position, cart velocity, pole angle (rad), pole angular velocity.

Rewards
    1.0 for each step after which the pole is still up and the cart on the track, 0.0 on the
    step that ends the episode (mbrl-lib's `reward_fns.cartpole`). The maximum return is
    `max_steps` (default 200, the PETS example's trial length).

Costs
    None: `infos["agent_0"]["cost"]` is always 0.0.

Episode end
    Terminates when |x| > 2.4 or |theta| > 12 degrees; truncation after `max_steps` steps.
    Reset draws the state uniformly in [-0.05, 0.05]^4.

Rendering
    "rgb_array": a (200, 400, 3) uint8 frame of the cart and pole.

Version history
    v0: first version.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from testbed.envs import _raster

AGENT = "agent_0"
GRAVITY, MASS_CART, MASS_POLE, HALF_LENGTH, TAU = 9.8, 1.0, 0.1, 0.5, 0.02
X_LIMIT, THETA_LIMIT = 2.4, 12 * 2 * math.pi / 360


def cartpole_step(state: np.ndarray, force: np.ndarray) -> np.ndarray:
    """One Euler step of the CartPole dynamics for states (..., 4) and forces (...)."""
    x, x_dot, theta, theta_dot = (state[..., i] for i in range(4))
    total, pole_ml = MASS_CART + MASS_POLE, MASS_POLE * HALF_LENGTH
    cos, sin = np.cos(theta), np.sin(theta)
    temp = (force + pole_ml * theta_dot**2 * sin) / total
    theta_acc = (GRAVITY * sin - cos * temp) / (
        HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos**2 / total)
    )
    x_acc = temp - pole_ml * theta_acc * cos / total
    return np.stack(
        [x + TAU * x_dot, x_dot + TAU * x_acc, theta + TAU * theta_dot,
         theta_dot + TAU * theta_acc], axis=-1,
    )  # fmt: skip


def cartpole_done(state: np.ndarray) -> np.ndarray:
    """Whether states (..., 4) are out of bounds."""
    return (np.abs(state[..., 0]) > X_LIMIT) | (np.abs(state[..., 2]) > THETA_LIMIT)


class CartPoleContinuousEnv(ParallelEnv):
    """CartPole with a continuous force; see the module docstring."""

    metadata = {
        "name": "cartpole_continuous_v0",
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
        "render_fps": 50,
    }

    def __init__(
        self, max_steps: int = 200, force_mag: float = 10.0, render_mode: str | None = None
    ):
        if max_steps < 1 or force_mag <= 0:
            raise ValueError("max_steps must be >= 1 and force_mag > 0")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.max_steps, self.force_mag, self.render_mode = max_steps, force_mag, render_mode
        self.possible_agents = [AGENT]
        self.agents: list[str] = []
        high = np.array([X_LIMIT * 2, np.inf, THETA_LIMIT * 2, np.inf], np.float32)
        self._obs_space = spaces.Box(-high, high, dtype=np.float32)
        self._act_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self._rng = np.random.default_rng()
        self._state = np.zeros(4)
        self._t = 0

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Box:
        return self._act_space

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._act_space.seed(seed)
        self._state = self._rng.uniform(-0.05, 0.05, 4)
        self._t = 0
        self.agents = [AGENT]
        return {AGENT: self._state.astype(np.float32)}, {AGENT: {"cost": 0.0}}

    def step(self, actions: dict[str, Any]):
        action = float(np.clip(np.asarray(actions[AGENT], np.float64).reshape(-1)[0], -1, 1))
        self._state = cartpole_step(self._state, np.float64(self.force_mag * action))
        self._t += 1
        terminated = bool(cartpole_done(self._state))
        truncated = not terminated and self._t >= self.max_steps
        if terminated or truncated:
            self.agents = []
        return (
            {AGENT: self._state.astype(np.float32)},
            {AGENT: 0.0 if terminated else 1.0},
            {AGENT: terminated},
            {AGENT: truncated},
            {AGENT: {"cost": 0.0}},
        )

    def render(self) -> Any:
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode=...")
            return None
        frame = _raster.canvas(200, 400, (255, 255, 255))
        scale = 400 / (2 * X_LIMIT * 2)
        cart_x = int(200 + self._state[0] * scale)
        _raster.fill_rect(frame, 140, cart_x - 20, 20, 40, (60, 60, 60))
        theta = self._state[2]
        for k in range(60):  # the pole, drawn as discs along its length
            px = cart_x + math.sin(theta) * k * 1.6
            py = 140 - math.cos(theta) * k * 1.6
            _raster.fill_disc(frame, py, px, 3.0, (202, 152, 101))
        return frame

    def state(self) -> np.ndarray:
        return self._state.astype(np.float32)

    def close(self) -> None:
        pass


def cartpole_continuous_v0(
    max_steps: int = 200, force_mag: float = 10.0, render_mode: str | None = None
) -> CartPoleContinuousEnv:
    """Continuous CartPole (`max_steps` per episode, force `force_mag * action`)."""
    return CartPoleContinuousEnv(max_steps=max_steps, force_mag=force_mag, render_mode=render_mode)
