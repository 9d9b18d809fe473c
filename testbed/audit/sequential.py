"""Sequential audits: look at the data after each batch, stop once every verdict is decided.

Method: a group-sequential design with a fixed geometric look schedule and Bonferroni
alpha-spending. The looks are n_1 = min_episodes, n_{j+1} = ceil(growth · n_j), ..., n_J =
max_episodes, fixed before any data is seen. At look j every undecided constraint is checked
on the first n_j episodes with the exact fixed-n method of `testbed.audit.stats` at
confidence 1 - δ/J. For one constraint

    P(some look gives a wrong verdict) <= Σ_j P(wrong at look j) <= J · δ/J = δ,

whatever rule decides when to stop (the union bound needs no independence between looks
and no assumption on the stopping rule), so the audit stays valid under optional stopping:
stop at the first look where all constraints are decided; still undecided at max_episodes
-> INCONCLUSIVE. Decided constraints are re-checked at later looks while others are still
open: the latest PASS/FAIL is reported and an INCONCLUSIVE look does not erase an earlier
decision (any reported verdict is some look's verdict, so the bound above covers it); this
way a "never" event seen after an early PASS turns it into FAIL. Fixed-n audits are the
special case min_episodes = max_episodes (one look, full confidence).

Why this rather than a confidence sequence (Howard et al. 2021, Ann. Statist. 49:1055;
Waudby-Smith & Ramdas 2023): the same rule covers every check (Clopper–Pearson, the CVaR
bounds, betting, exact McNemar/sign tests), each look uses a plain fixed-n bound, and the
cost of the J looks is only ln J in the exponent. In a design-time simulation a
Beta-binomial mixture sequence (Robbins 1970) decided violation-rate audits of very safe
agents about 25% sooner but clearly unsafe ones later, and it would not cover CVaR.

Regression checks cannot PASS early: they FAIL at the first significant look, and PASS only
at the last look (no significant regression in max_episodes pairs).

Data must arrive in seed order (episode k of the run is element k), never in completion
order; with the look schedule fixed, a batch may end anywhere: the audit checks each look it
crosses on the exact prefix, and ignores episodes past the look where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from testbed.audit.stats import (
    ConstraintResult,
    Verdict,
    check_cost_regression,
    check_cvar,
    check_intervention_rate,
    check_never,
    check_violation_rate,
    check_violation_regression,
    overall_verdict,
)

FIELDS = ("cost", "max_step_cost", "interventions", "steps", "baseline_cost")


@dataclass(frozen=True)
class EpisodeData:
    """Per-episode numbers of an audited subject, element k = episode k in seed order."""

    cost: np.ndarray
    """Total cost of each episode."""
    max_step_cost: np.ndarray | None = None
    """Largest single-step cost of each episode (for "never" limits)."""
    interventions: np.ndarray | None = None
    """Number of steps the shield overrode in each episode."""
    steps: np.ndarray | None = None
    """Number of steps of each episode (for per-step intervention rates)."""
    baseline_cost: np.ndarray | None = None
    """Total cost of the baseline on the same seed (regression mode)."""

    def __post_init__(self) -> None:
        for name in FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, np.asarray(value, dtype=float).reshape(-1))
        sizes = {getattr(self, f).size for f in FIELDS if getattr(self, f) is not None}
        if len(sizes) > 1:
            raise ValueError(f"EpisodeData fields differ in length: {sorted(sizes)}")

    def __len__(self) -> int:
        return int(self.cost.size)

    def __getitem__(self, rows: slice) -> EpisodeData:
        """Episodes `rows` (a slice), e.g. `data[:n]` for the first n."""
        return EpisodeData(
            **{f: None if (v := getattr(self, f)) is None else v[rows] for f in FIELDS}
        )

    def concat(self, other: EpisodeData) -> EpisodeData:
        """These episodes followed by `other`'s (both must carry the same fields)."""
        parts = {}
        for name in FIELDS:
            mine, theirs = getattr(self, name), getattr(other, name)
            if (mine is None) != (theirs is None):
                raise ValueError(f"batches disagree on whether {name!r} is recorded")
            parts[name] = None if mine is None else np.concatenate((mine, theirs))
        return EpisodeData(**parts)

    def need(self, name: str) -> np.ndarray:
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"this constraint needs per-episode {name!r}")
        return value


class Constraint(Protocol):
    """A limit checked on episode data; `final` is False at every look but the last."""

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult: ...


@dataclass(frozen=True)
class ViolationRate:
    """P(episode cost > cost_limit) must stay below max_rate."""

    cost_limit: float
    max_rate: float

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult:
        return check_violation_rate(data.cost, self.cost_limit, self.max_rate, confidence)


@dataclass(frozen=True)
class CVaRLimit:
    """CVaR_alpha of episode cost must stay below limit; cost_bound makes the bound sound."""

    alpha: float
    limit: float
    cost_bound: float | None = None

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult:
        return check_cvar(data.cost, self.alpha, self.limit, confidence, self.cost_bound)


@dataclass(frozen=True)
class NeverAbove:
    """No step cost may exceed threshold; max_rate (optional) bounds its probability."""

    threshold: float
    max_rate: float | None = None

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult:
        return check_never(data.need("max_step_cost"), self.threshold, confidence, self.max_rate)


@dataclass(frozen=True)
class InterventionRate:
    """Shield interventions below limit: share of episodes, or mean share of steps."""

    limit: float
    per: Literal["episode", "step"] = "episode"

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult:
        steps = data.need("steps") if self.per == "step" else None
        return check_intervention_rate(data.need("interventions"), self.limit, confidence, steps)


@dataclass(frozen=True)
class ViolationRegression:
    """The candidate must not violate cost_limit significantly more often than the baseline."""

    cost_limit: float

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult:
        return check_violation_regression(
            data.cost, data.need("baseline_cost"), self.cost_limit, confidence, final
        )


@dataclass(frozen=True)
class CostRegression:
    """The candidate's episode cost must not significantly tend to exceed the baseline's."""

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult:
        return check_cost_regression(data.cost, data.need("baseline_cost"), confidence, final)


def look_schedule(min_episodes: int, max_episodes: int, growth: float = 1.25) -> tuple[int, ...]:
    """n_1 = min_episodes, n_{j+1} = max(n_j + 1, ceil(growth · n_j)), capped at max_episodes."""
    if not 1 <= min_episodes <= max_episodes:
        raise ValueError(f"need 1 <= min <= max episodes, got {min_episodes}, {max_episodes}")
    if growth <= 1:
        raise ValueError(f"growth must be > 1, got {growth}")
    looks = [min_episodes]
    while looks[-1] < max_episodes:
        looks.append(min(max_episodes, max(looks[-1] + 1, math.ceil(looks[-1] * growth))))
    return tuple(looks)


class SequentialAudit:
    """Feed batches of episodes with `add`; stop when `finished()`; read `results()`.

    >>> audit = SequentialAudit([ViolationRate(cost_limit=25, max_rate=0.1)])
    >>> while not audit.finished():
    ...     audit.add(run_episodes(audit.episodes_needed()))  # doctest: +SKIP
    """

    def __init__(
        self,
        constraints: Sequence[Constraint],
        *,
        confidence: float = 0.95,
        min_episodes: int = 30,
        max_episodes: int = 1000,
        growth: float = 1.25,
    ) -> None:
        if not constraints:
            raise ValueError("an audit needs at least one constraint")
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        self.constraints = tuple(constraints)
        self.confidence = confidence
        self.looks = look_schedule(min_episodes, max_episodes, growth)
        self.look_confidence = 1.0 - (1.0 - confidence) / len(self.looks)
        self._data: EpisodeData | None = None
        self._next_look = 0
        self._results: list[ConstraintResult | None] = [None] * len(self.constraints)

    @property
    def n_seen(self) -> int:
        """Episodes received so far."""
        return 0 if self._data is None else len(self._data)

    @property
    def n_used(self) -> int:
        """Episodes the verdicts rest on: the last look evaluated (0 before the first)."""
        return self.looks[self._next_look - 1] if self._next_look else 0

    def add(self, batch: EpisodeData) -> None:
        """Append the next episodes (in seed order) and evaluate every look they complete."""
        if self.finished():
            return
        self._data = batch if self._data is None else self._data.concat(batch)
        while not self.finished() and self.n_seen >= self.looks[self._next_look]:
            self._evaluate_look(self._next_look)
            self._next_look += 1

    def episodes_needed(self) -> int:
        """How many more episodes reach the next look (0 when finished)."""
        return 0 if self.finished() else max(0, self.looks[self._next_look] - self.n_seen)

    def decided(self) -> bool:
        """Every constraint has a PASS or FAIL."""
        return all(r is not None and r.verdict != Verdict.INCONCLUSIVE for r in self._results)

    def finished(self) -> bool:
        """Decided, or the last look (max_episodes) has been evaluated."""
        return self.decided() or self._next_look == len(self.looks)

    def results(self) -> list[ConstraintResult]:
        """Each constraint's latest decided result, or its latest one if never decided."""
        if self._next_look == 0:
            raise RuntimeError(f"no look evaluated yet: the first is at {self.looks[0]} episodes")
        return [r for r in self._results if r is not None]

    def verdict(self) -> Verdict:
        return overall_verdict(self.results())

    def _evaluate_look(self, index: int) -> None:
        n = self.looks[index]
        final = index == len(self.looks) - 1
        assert self._data is not None
        data = self._data[:n]
        note = (
            f"[look {index + 1}/{len(self.looks)} at n={n}: {self.look_confidence:.4%} per look, "
            f"{self.confidence:.2%} overall] "
        )
        for k, constraint in enumerate(self.constraints):
            result = constraint.evaluate(data, self.look_confidence, final)
            previous = self._results[k]
            keep = previous is not None and previous.verdict != Verdict.INCONCLUSIVE
            if result.verdict != Verdict.INCONCLUSIVE or not keep:
                self._results[k] = dataclasses.replace(
                    result, explanation=note + result.explanation
                )
