"""A spurious feature under confounding: `testbed/confounded_v0`, a causal-RL test bed.

Each step shows one context drawn from a small structural causal model and asks for one
answer. A hidden confounder U (uniform over `n_values` values) drives both

- the **cause** C: C = U with probability `cause_agreement`, else uniform. The reward is
  caused by C and the answer only: 1 when the answer equals C, else 0. C is shown with
  probability `visible_prob` and hidden (value `n_values`) otherwise.
- the **spurious** feature S: S = m(U) with probability `spurious_agreement`, else uniform,
  always shown. S has no effect on the reward. In the `train` distribution m is the
  identity, so S agrees with the rewarding answer most of the time; in the `test`
  distribution m shifts every value by n_values // 2 (for two values: S = 1 - U), so the
  correlation flips while the reward's mechanism stays the same.

A learner that conditions on S does better in training (when C is hidden, S is the best
guess) and worse after the shift; one that conditions on C alone gets the same return in both.
Observational data cannot tell the two features apart as causes (given a hidden C, S
predicts the reward); interventions can: `intervene({"spurious": v})` sets S by do(S = v)
for the next context (None: uniform), after which S carries no information about the reward.

Agents
    `agent_0` (one agent, ParallelEnv).

Actions
    Discrete(n_values): the answer.

Observations
    MultiDiscrete([n_values + 1, n_values]): (C or n_values when hidden, S).

Rewards
    1.0 when the answer equals C, else 0.0.

Costs
    None: `infos["agent_0"]["cost"]` is always 0.0.

Episode end
    Never terminates; truncation after `max_steps` (default 10) contexts.

Rendering
    `rgb_array`: columns for the shown cause (none lit when hidden), the spurious feature
    and the true cause.

Interventions
    `intervention_variables` ({"cause": n, "spurious": n}); `intervene({name: value or None})`
    applies do(name = value) to the next context drawn (by `reset` or `step`), once.
    `observation_variables` names the variable each observation component shows.

Version history
    v0: first version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

AGENT = "agent_0"
DISTRIBUTIONS = ("train", "test")
FEATURES = ("cause", "spurious")


class ConfoundedEnv(ParallelEnv):
    """Answer with the hidden cause; a confounded spurious feature's correlation flips at
    test. See the module docstring."""

    metadata = {"name": "confounded_v0", "render_modes": ["rgb_array"], "is_parallelizable": True}

    def __init__(
        self,
        distribution: str = "train",
        n_values: int = 2,
        visible_prob: float = 0.5,
        cause_agreement: float = 0.9,
        spurious_agreement: float = 0.9,
        max_steps: int = 10,
        render_mode: str | None = None,
    ):
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
        if n_values < 2:
            raise ValueError(f"n_values must be >= 2, got {n_values}")
        for name, p in [
            ("visible_prob", visible_prob),
            ("cause_agreement", cause_agreement),
            ("spurious_agreement", spurious_agreement),
        ]:
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.distribution, self.n_values = distribution, n_values
        self.visible_prob = visible_prob
        self.cause_agreement, self.spurious_agreement = cause_agreement, spurious_agreement
        self.max_steps, self.render_mode = max_steps, render_mode
        self.shift = 0 if distribution == "train" else n_values // 2
        self.possible_agents = [AGENT]
        self.agents: list[str] = []
        self.intervention_variables = {name: n_values for name in FEATURES}
        self.observation_variables = FEATURES  # what each observation component shows
        self._obs_space = spaces.MultiDiscrete([n_values + 1, n_values])
        self._act_space = spaces.Discrete(n_values)
        self._rng = np.random.default_rng()
        self._pending: dict[str, int | None] = {}
        self._cause = 0
        self._obs = np.zeros(2, np.int64)
        self._t = 0

    def observation_space(self, agent: str) -> spaces.MultiDiscrete:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._act_space

    def intervene(self, assignments: dict[str, int | None]) -> None:
        """do(name = value) for the next context drawn; value None draws it uniformly,
        independent of the confounder."""
        for name, value in assignments.items():
            if name not in self.intervention_variables:
                raise ValueError(f"no variable {name!r}; choose from {list(FEATURES)}")
            if value is not None and not 0 <= int(value) < self.n_values:
                raise ValueError(f"{name} must be in [0, {self.n_values}), got {value}")
        self._pending = dict(assignments)

    def _draw(self, agreement: float, value: int) -> int:
        if self._rng.random() < agreement:
            return value
        return int(self._rng.integers(self.n_values))

    def _do(self, name: str, natural: int) -> int:
        if name not in self._pending:
            return natural
        value = self._pending[name]
        return int(self._rng.integers(self.n_values)) if value is None else int(value)

    def _next_context(self) -> np.ndarray:
        confounder = int(self._rng.integers(self.n_values))
        self._cause = self._do("cause", self._draw(self.cause_agreement, confounder))
        mapped = (confounder + self.shift) % self.n_values
        spurious = self._do("spurious", self._draw(self.spurious_agreement, mapped))
        visible = self._rng.random() < self.visible_prob
        self._pending = {}
        self._obs = np.array([self._cause if visible else self.n_values, spurious], np.int64)
        return self._obs.copy()

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._act_space.seed(seed)
        self._t = 0
        self.agents = [AGENT]
        return {AGENT: self._next_context()}, {AGENT: {"cost": 0.0}}

    def step(self, actions: dict[str, Any]):
        reward = float(int(actions[AGENT]) == self._cause)
        self._t += 1
        truncated = self._t >= self.max_steps
        if truncated:
            self.agents = []
        return (
            {AGENT: self._next_context()},
            {AGENT: reward},
            {AGENT: False},
            {AGENT: truncated},
            {AGENT: {"cost": 0.0}},
        )

    def render(self) -> np.ndarray | None:
        """Three columns, top to bottom one row per value: the shown cause (grey when
        hidden), the spurious feature and the true cause; the lit cell marks the value."""
        if self.render_mode is None:
            return None
        n, cell = self.n_values, 16
        frame = np.full((n * cell, 3 * cell + 2 * 4, 3), 235, np.uint8)
        shown, spurious = (int(v) for v in self._obs)
        columns = [(shown, (46, 139, 87)), (spurious, (200, 40, 40)), (self._cause, (60, 60, 60))]
        for column, (value, color) in enumerate(columns):
            left = column * (cell + 4)
            frame[:, left : left + cell] = 200
            if value < n:
                frame[value * cell : (value + 1) * cell, left : left + cell] = color
        return frame

    def state(self) -> np.ndarray:
        return np.array([self._cause, *self._obs], np.int64)

    def close(self) -> None:
        pass


def confounded_v0(
    distribution: str = "train",
    n_values: int = 2,
    visible_prob: float = 0.5,
    cause_agreement: float = 0.9,
    spurious_agreement: float = 0.9,
    max_steps: int = 10,
    render_mode: str | None = None,
) -> ConfoundedEnv:
    """The confounded-feature env (`distribution` train or test; see the module docstring)."""
    return ConfoundedEnv(
        distribution, n_values, visible_prob, cause_agreement, spurious_agreement, max_steps,
        render_mode,
    )  # fmt: skip
