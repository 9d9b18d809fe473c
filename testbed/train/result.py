"""What a `kind: train` stage returns (also with `self_play:`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from testbed.context import StageResult


@dataclass
class TrainResult(StageResult):
    """The learning curve, the final evaluation and where the checkpoints are."""

    kind: ClassVar[str] = "train"

    seed: int = 0
    steps: int = 0
    episodes: int = 0
    learners: dict[str, str] = field(default_factory=dict)
    curve: list[dict[str, Any]] = field(default_factory=list)
    final_eval: dict[str, Any] | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    checkpoints: dict[str, str] = field(default_factory=dict)
    folder: str = ""
    wall_time_s: float = 0.0
    self_play: dict[str, Any] | None = None
    transfer: dict[str, Any] | None = None
    """With `init_from:`: per learning unit, the tensors copied, kept fresh, and frozen."""
    experiments: dict[str, Any] | None = None
    """Learners that experiment before training (causal_q): per agent, the env steps spent
    and what the experiments found."""
    sweep: dict[str, Any] | None = None
    """With `seeds:`: every seed's run and the aggregates over seeds (the other fields are
    the first seed's run)."""

    def trained_agents(self) -> dict[str, str]:
        return dict(self.checkpoints)
