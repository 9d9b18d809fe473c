"""Bit flipping, `testbed/bit_flip_v0` (Andrychowicz et al. 2017, "Hindsight Experience Replay").

A goal-conditioned one-agent task. The state is a vector of `n_bits` bits; each action flips
one bit; the episode succeeds when the state equals a target vector drawn at reset. The
reward is sparse, so without hindsight relabelling a learner almost never sees a success once
`n_bits` is past ~10 (the paper: DQN fails beyond n = 13, DQN + HER solves n = 50).

Agents
    `agent_0` (one agent, ParallelEnv).

Actions
    Discrete(n_bits): flip bit i.

Observations
    A goal-conditioned Dict (the gymnasium-robotics convention, read by `her:` learners):
    `observation` and `achieved_goal` are both the current bits, `desired_goal` the target,
    each Box(0, 1, (n_bits,), float32).

Rewards
    0 on the step that reaches the target, else -1 (`reward = -(achieved != desired)`, the
    paper's). `infos["agent_0"]["is_success"]` is 1.0 when the bits equal the target.

Costs
    None: `infos["agent_0"]["cost"]` is always 0.0.

Episode end
    Terminates when the bits equal the target; truncation after `max_steps` steps (default
    `n_bits`, the paper's horizon). Start and target are drawn uniformly and differ.

Rendering
    "rgb_array": two rows of cells (state above, target below; black = 1); "ansi": both rows
    as text.

Version history
    v0: first version.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

AGENT = "agent_0"
CELL_PX = 16


class BitFlipEnv(ParallelEnv):
    """Flip bits until they equal the target; see the module docstring."""

    metadata = {
        "name": "bit_flip_v0",
        "render_modes": ["rgb_array", "ansi"],
        "is_parallelizable": True,
        "render_fps": 5,
    }

    def __init__(
        self, n_bits: int = 15, max_steps: int | None = None, render_mode: str | None = None
    ):
        if n_bits < 1:
            raise ValueError(f"n_bits must be >= 1, got {n_bits}")
        if max_steps is not None and max_steps < 1:
            raise ValueError(f"max_steps must be >= 1 or None, got {max_steps}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.n_bits = n_bits
        self.max_steps = n_bits if max_steps is None else max_steps
        self.render_mode = render_mode
        self.possible_agents = [AGENT]
        self.agents: list[str] = []
        bits = spaces.Box(0.0, 1.0, (n_bits,), np.float32)
        self._obs_space = spaces.Dict(
            {"observation": bits, "achieved_goal": bits, "desired_goal": bits}
        )
        self._act_space = spaces.Discrete(n_bits)
        self._rng = np.random.default_rng()
        self._bits = np.zeros(n_bits, np.float32)
        self._goal = np.ones(n_bits, np.float32)
        self._t = 0

    def observation_space(self, agent: str) -> spaces.Dict:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._act_space

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._act_space.seed(seed)
        self._bits = self._rng.integers(0, 2, self.n_bits).astype(np.float32)
        self._goal = self._rng.integers(0, 2, self.n_bits).astype(np.float32)
        if np.array_equal(self._bits, self._goal):  # never start solved
            flip = int(self._rng.integers(self.n_bits))
            self._goal[flip] = 1.0 - self._goal[flip]
        self._t = 0
        self.agents = [AGENT]
        return {AGENT: self._observe()}, {AGENT: self._info()}

    def step(self, actions: dict[str, Any]):
        index = int(actions[AGENT])
        if not 0 <= index < self.n_bits:
            raise ValueError(f"action must be in 0..{self.n_bits - 1}, got {index}")
        self._bits[index] = 1.0 - self._bits[index]
        self._t += 1
        success = bool(np.array_equal(self._bits, self._goal))
        truncated = not success and self._t >= self.max_steps
        if success or truncated:
            self.agents = []
        return (
            {AGENT: self._observe()},
            {AGENT: 0.0 if success else -1.0},
            {AGENT: success},
            {AGENT: truncated},
            {AGENT: self._info()},
        )

    def _observe(self) -> dict[str, np.ndarray]:
        return {
            "observation": self._bits.copy(),
            "achieved_goal": self._bits.copy(),
            "desired_goal": self._goal.copy(),
        }

    def _info(self) -> dict[str, float]:
        return {"cost": 0.0, "is_success": float(np.array_equal(self._bits, self._goal))}

    def render(self) -> Any:
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode=...")
            return None
        if self.render_mode == "ansi":
            row = "".join(str(int(b)) for b in self._bits)
            return f"t={self._t}\n{row}\n{''.join(str(int(b)) for b in self._goal)}"
        cells = np.stack([self._bits, self._goal])  # (2, n)
        frame = np.where(cells[:, :, None] > 0.5, 0, 235).astype(np.uint8)
        frame = np.repeat(np.repeat(frame, CELL_PX, axis=0), CELL_PX, axis=1)
        return np.repeat(frame, 3, axis=2)

    def state(self) -> np.ndarray:
        return np.concatenate([self._bits, self._goal])

    def close(self) -> None:
        pass


def bit_flip_v0(
    n_bits: int = 15, max_steps: int | None = None, render_mode: str | None = None
) -> BitFlipEnv:
    """The bit-flipping env (`n_bits` bits, `max_steps` default n_bits)."""
    return BitFlipEnv(n_bits=n_bits, max_steps=max_steps, render_mode=render_mode)
