"""A policy that always takes the same action: the "do nothing" floor.

By default the action is the space's natural no-op: `start` (0) for Discrete, the centre of a
Box (per dimension: the finite bound when only one is finite, 0 when neither is; for MPE's
continuous actions the centre applies no force), the lowest value of each MultiDiscrete entry,
zeros for MultiBinary, and the same element-wise for Tuple and Dict spaces. `action` in the
config overrides it. When a legal-action mask forbids the fixed action (Discrete spaces), the
policy takes the first legal action instead. It uses no randomness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces


@dataclass(frozen=True)
class NoopConfig:
    """Parameters of the fixed-action policy."""

    action: int | float | list[float] | None = None
    """The fixed action; None = the space's no-op (0, Box centre). A number fills a Box."""


def default_action(space: spaces.Space) -> Any:
    """The natural no-op of `space` (see the module docstring)."""
    if isinstance(space, spaces.Discrete):
        return np.int64(space.start)
    if isinstance(space, spaces.Box):
        finite_low, finite_high = np.isfinite(space.low), np.isfinite(space.high)
        low = np.where(finite_low, space.low, 0.0)
        high = np.where(finite_high, space.high, 0.0)
        one_sided = np.where(finite_low, low, high)  # the finite bound, or 0 when neither is
        centre = np.where(finite_low & finite_high, (low + high) / 2, one_sided)
        if np.issubdtype(space.dtype, np.integer):
            centre = np.floor(centre)
        return centre.astype(space.dtype)
    if isinstance(space, spaces.MultiDiscrete):
        return np.asarray(getattr(space, "start", 0) + np.zeros(space.shape), dtype=space.dtype)
    if isinstance(space, spaces.MultiBinary):
        return np.zeros(space.shape, dtype=space.dtype)
    if isinstance(space, spaces.Tuple):
        return tuple(default_action(s) for s in space.spaces)
    if isinstance(space, spaces.Dict):
        return {key: default_action(s) for key, s in space.spaces.items()}
    raise TypeError(f"noop policy has no default action for {space!r}")


def _configured_action(space: spaces.Space, value: int | float | list[float]) -> Any:
    if isinstance(space, spaces.Discrete):
        if not isinstance(value, int) and not (isinstance(value, float) and value.is_integer()):
            raise ValueError(f"noop action {value!r} is not an integer for {space!r}")
        action: Any = np.int64(value)
    elif isinstance(space, spaces.Box | spaces.MultiDiscrete | spaces.MultiBinary):
        action = np.broadcast_to(np.asarray(value, dtype=space.dtype), space.shape).copy()
    else:
        raise ValueError(f"noop action {value!r} cannot be given for {space!r}; leave it unset")
    if not space.contains(action):
        raise ValueError(f"noop action {value!r} is not in the action space {space!r}")
    return action


class NoopPolicy:
    """Always the same action; the first legal one when a mask forbids it."""

    Config = NoopConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: NoopConfig | None = None,
    ):
        self.config = config or NoopConfig()
        self.action_space = action_space
        if self.config.action is None:
            self.action = default_action(action_space)
        else:
            self.action = _configured_action(action_space, self.config.action)

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: the policy is deterministic."""

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        if action_mask is None or not isinstance(self.action_space, spaces.Discrete):
            return self.action
        index = int(self.action) - int(self.action_space.start)
        if action_mask[index]:
            return self.action
        legal = np.flatnonzero(action_mask)
        if legal.size == 0:
            raise ValueError("action mask allows no action")
        return np.int64(self.action_space.start + legal[0])
