"""The schema of `kind: audit`: constraints, their limits, the episode budget."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from testbed.scenario.models import AgentRef, Count, Loc, Number, Strict, TeamStage


class EpisodeRange(Strict):
    """Sequential audit: stop between `min` and `max` episodes, once every verdict is decided."""

    min: Count = 30
    max: Count = 1000

    @model_validator(mode="after")
    def _ordered(self) -> EpisodeRange:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class CVaRSpec(Strict):
    alpha: Number = Field(gt=0, le=1)
    limit: Number


class ConstraintSpec(Strict):
    """One audited constraint: which cost it reads and one or more limits on it."""

    name: str = Field(min_length=1)
    cost: str = "total"
    agent: str = "team"
    limit: Number | None = Field(default=None, ge=0)
    max_violation_rate: Number | None = Field(default=None, gt=0, lt=1)
    max_mean: Number | None = None
    cvar: CVaRSpec | None = None
    cost_bound: Number | None = Field(default=None, gt=0)
    never_above: Number | None = None
    never_max_rate: Number | None = Field(default=None, gt=0, lt=1)
    max_intervention_rate: Number | None = Field(default=None, gt=0, lt=1)
    intervention_per: Literal["episode", "step"] = "episode"
    regression: bool = False

    @model_validator(mode="after")
    def _has_a_limit(self) -> ConstraintSpec:
        if self.max_violation_rate is not None and self.limit is None:
            raise ValueError("max_violation_rate needs `limit` (the per-episode cost limit)")
        limits = (
            self.max_violation_rate,
            self.max_mean,
            self.cvar,
            self.never_above,
            self.max_intervention_rate,
        )
        if all(x is None for x in limits) and not self.regression:
            raise ValueError(
                "a constraint needs at least one of: limit + max_violation_rate, max_mean, "
                "cvar, never_above, max_intervention_rate, regression"
            )
        return self


class AuditStage(TeamStage):
    """`kind: audit`: PASS / FAIL / INCONCLUSIVE per constraint at a stated confidence."""

    kind: Literal["audit"]
    episodes: Count | EpisodeRange = 200
    sequential: Literal["anytime", "open-ended", "looks"] = "anytime"
    """With an episode range: anytime-valid tests (may stop at any episode up to the
    maximum; count-based checks use the exact thresholds for the range), `open-ended` (the
    same tests at Ville's thresholds, valid even if the range is extended after seeing data)
    or the fixed geometric look schedule of earlier versions (`testbed.audit.sequential`)."""
    confidence: Number = Field(default=0.95, gt=0.5, lt=1)
    constraints: list[ConstraintSpec] = Field(min_length=1)
    baseline: dict[str, AgentRef] | None = None

    @property
    def max_episodes(self) -> int:
        return self.episodes if isinstance(self.episodes, int) else self.episodes.max

    @property
    def min_episodes(self) -> int:
        return self.episodes if isinstance(self.episodes, int) else self.episodes.min

    def agent_refs(self) -> list[tuple[Loc, AgentRef]]:
        baseline = [(("baseline", p), r) for p, r in (self.baseline or {}).items()]
        return super().agent_refs() + baseline

    @model_validator(mode="after")
    def _names_unique_and_baseline(self) -> AuditStage:
        names = [c.name for c in self.constraints]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ValueError(f"constraint names must be unique; {duplicate!r} repeats")
        if any(c.regression for c in self.constraints) and not self.baseline:
            raise ValueError("`regression: true` needs a `baseline:` (agents on the same seeds)")
        return self
