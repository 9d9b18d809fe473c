"""What the training loops share: which policies learn, and where a run is."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


def is_learner(policy: Any) -> bool:
    return all(callable(getattr(policy, m, None)) for m in ("explore", "observe", "update"))


def learns(policy: Any) -> bool:
    """A learner, or a Member of a joint learner."""
    return is_learner(getattr(policy, "group", None)) or is_learner(policy)


def group_name(agents: Sequence[str]) -> str:
    return "+".join(agents)


@dataclass
class EpisodeStats:
    """One finished training episode."""

    index: int
    end_step: int
    length: int
    returns: dict[str, float]
    costs: dict[str, float]

    @property
    def team_return(self) -> float:
        return sum(self.returns.values())

    @property
    def team_cost(self) -> float:
        return sum(self.costs.values())


@dataclass
class TrainState:
    """Where a run is: env steps and episodes done, the last update metrics per agent."""

    step: int = 0
    episodes: int = 0
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)


StepHook = Callable[[TrainState], None]
EpisodeHook = Callable[[EpisodeStats, TrainState], None]
