"""Scripted harvesters for `testbed/commons_harvest_v0`: the social dilemma's reference bots.

- `SustainableHarvester` always puts in its share of the effort that yields the maximum
  sustainable yield (MSY); a group of them holds the stock where regrowth is fastest
  (Schaefer 1954, Gordon 1954).
- `GreedyHarvester` always puts in the most effort: the dominant move of the one-shot game.
- `ConditionalCooperator` plays tit-for-tat on the group (Axelrod 1984): it harvests like a
  sustainable agent while the others, on average, put in no more than the MSY share of effort
  last step, and greedily for a step after they put in more.

The default `share_level` fits the env defaults (5 agents, growth rate 0.4, catch rate 0.1,
levels 0..3): the MSY effort share is level 1. All three are deterministic; `reset(seed)` is
accepted for the Policy protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

STOCK, OWN_LAST, OTHERS_LAST, TIME_LEFT = range(4)  # observation layout of commons_harvest_v0


def _levels(observation_space: spaces.Space, action_space: spaces.Space) -> int:
    """The number of harvest levels, after checking these are commons_harvest spaces."""
    if not isinstance(observation_space, spaces.Box) or observation_space.shape != (4,):
        raise ValueError(f"needs the commons_harvest Box(4) observation, got {observation_space}")
    if not isinstance(action_space, spaces.Discrete) or action_space.n < 2:
        raise ValueError(f"needs Discrete harvest levels, got {action_space}")
    return int(action_space.n)


def _check_level(level: int, levels: int) -> None:
    if not 0 <= level < levels:
        raise ValueError(f"level {level} outside the env's harvest levels 0..{levels - 1}")


@dataclass(frozen=True)
class SustainableConfig:
    """Parameters of the sustainable harvester."""

    share_level: int = 1
    """Level of 1/n of the MSY effort (1 with the env defaults: 2 of 10 per step)."""


class SustainableHarvester:
    """Always plays its share of the MSY effort."""

    Config = SustainableConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: SustainableConfig | None = None,
    ):
        self.config = config or SustainableConfig()
        _check_level(self.config.share_level, _levels(observation_space, action_space))

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        return np.int64(self.config.share_level)


@dataclass(frozen=True)
class GreedyConfig:
    """Parameters of the greedy harvester."""

    level: int = -1
    """Level played every step; -1 = the highest."""


class GreedyHarvester:
    """Plays the same (by default the highest) effort level every step."""

    Config = GreedyConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: GreedyConfig | None = None,
    ):
        self.config = config or GreedyConfig()
        levels = _levels(observation_space, action_space)
        self.level = levels - 1 if self.config.level == -1 else self.config.level
        _check_level(self.level, levels)

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        return np.int64(self.level)


@dataclass(frozen=True)
class ConditionalCooperatorConfig:
    """Parameters of the tit-for-tat harvester."""

    share_level: int = 1
    """Level of 1/n of the MSY effort, played while the others cooperate."""
    tolerance: float = 0.05
    """Others' mean effort (0..1) may exceed the share by this much unpunished."""


class ConditionalCooperator:
    """Tit-for-tat: the MSY share after the others kept to it, the highest level after not.

    All agents harvest the same stock, so the ratio of the others' mean harvest to its own
    harvest last step is the ratio of their mean effort to its own effort.
    """

    Config = ConditionalCooperatorConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: ConditionalCooperatorConfig | None = None,
    ):
        self.config = config or ConditionalCooperatorConfig()
        self.levels = _levels(observation_space, action_space)
        _check_level(self.config.share_level, self.levels)
        if self.config.share_level == 0:
            raise ValueError("share_level must be >= 1 to read the others' effort")
        self.last_level = self.config.share_level

    def reset(self, seed: int | None = None) -> None:
        self.last_level = self.config.share_level

    def _effort(self, level: int) -> float:
        return level / (self.levels - 1)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        obs = np.asarray(observation, dtype=float)
        level = self.config.share_level
        if obs[OWN_LAST] > 0:  # not the first step
            others_effort = obs[OTHERS_LAST] / obs[OWN_LAST] * self._effort(self.last_level)
            if others_effort > self._effort(level) + self.config.tolerance:
                level = self.levels - 1
        self.last_level = level
        return np.int64(level)
