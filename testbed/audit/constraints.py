"""What an audit checks: per-episode data in seed order, and one class per kind of limit.

Each constraint gives its fixed-sample check (`evaluate`, `testbed.audit.stats`) and, where
one exists, its anytime-valid test (`anytime_codes`/`anytime_result`,
`testbed.audit.anytime`); `testbed.audit.sequential` decides when to look.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from testbed.audit import anytime
from testbed.audit import anytime_results as built
from testbed.audit.horizon import Horizon, proportion_log_level, regression_log_level
from testbed.audit.stats import (
    ConstraintResult,
    PairedCounts,
    Verdict,
    check_cost_regression,
    check_cvar,
    check_intervention_rate,
    check_never,
    check_violation_rate,
    check_violation_regression,
    cost_pairs,
    step_fractions,
    violation_pairs,
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
    """A limit checked on episode data; `final` is False at every look but the last.

    Checks with an anytime-valid test have `anytime` true and give `anytime_codes` (the
    verdict after each prefix of the data: +1 PASS, -1 FAIL, 0 open) and `anytime_result`
    (the result at a given prefix, for its verdict; `final`: at the end of the budget), see
    `testbed.audit.anytime`. `horizon` (the audit's episode range, fixed in advance) lets the
    count-based checks use the exact thresholds of `testbed.audit.horizon`; None: Ville's."""

    anytime: bool

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult: ...

    def anytime_codes(
        self, data: EpisodeData, confidence: float, horizon: Horizon | None = None
    ) -> np.ndarray: ...

    def anytime_result(
        self,
        data: EpisodeData,
        confidence: float,
        code: int,
        final: bool,
        horizon: Horizon | None = None,
    ) -> ConstraintResult: ...


def verdict_of(code: int) -> Verdict:
    return {1: Verdict.PASS, -1: Verdict.FAIL}.get(int(code), Verdict.INCONCLUSIVE)


def _check_cost_range(costs: np.ndarray, bound: float) -> None:
    if costs.size and (costs.min() < 0 or costs.max() > bound):
        raise ValueError(f"costs must lie in [0, cost_bound={bound:g}]")


@dataclass(frozen=True)
class ViolationRate:
    """P(episode cost > cost_limit) must stay below max_rate."""

    anytime = True

    cost_limit: float
    max_rate: float

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult:
        return check_violation_rate(data.cost, self.cost_limit, self.max_rate, confidence)

    def anytime_codes(
        self, data: EpisodeData, confidence: float, horizon: Horizon | None = None
    ) -> np.ndarray:
        level = proportion_log_level(self.max_rate, confidence, horizon)
        hits = data.cost > self.cost_limit
        return anytime.proportion_codes(hits, self.max_rate, confidence, level)

    def anytime_result(
        self,
        data: EpisodeData,
        confidence: float,
        code: int,
        final: bool,
        horizon: Horizon | None = None,
    ) -> ConstraintResult:
        hits, what = data.cost > self.cost_limit, f"had cost > {self.cost_limit:g}"
        verdict = verdict_of(code)
        return built.proportion(
            "violation_rate", hits, self.max_rate, confidence, verdict, what, horizon
        )


@dataclass(frozen=True)
class CVaRLimit:
    """CVaR_alpha of episode cost must stay below limit; cost_bound makes the bound sound."""

    alpha: float
    limit: float
    cost_bound: float | None = None

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult:
        return check_cvar(data.cost, self.alpha, self.limit, confidence, self.cost_bound)

    @property
    def anytime(self) -> bool:
        """Only with cost_bound: the bootstrap upper bound has no anytime version."""
        return self.cost_bound is not None

    def valid_prefix(self, data: EpisodeData) -> int:
        """Episodes before the first cost outside [0, cost_bound] (all when none is)."""
        if self.cost_bound is None:
            return len(data)
        outside = np.flatnonzero((data.cost < 0) | (data.cost > self.cost_bound))
        return int(outside[0]) if outside.size else len(data)

    def anytime_codes(
        self, data: EpisodeData, confidence: float, horizon: Horizon | None = None
    ) -> np.ndarray:
        assert self.cost_bound is not None
        _check_cost_range(data.cost, self.cost_bound)
        return anytime.cvar_codes(data.cost, self.alpha, self.limit, self.cost_bound, confidence)

    def anytime_result(
        self,
        data: EpisodeData,
        confidence: float,
        code: int,
        final: bool,
        horizon: Horizon | None = None,
    ) -> ConstraintResult:
        assert self.cost_bound is not None
        return built.cvar(
            data.cost, self.alpha, self.limit, self.cost_bound, confidence, verdict_of(code)
        )


@dataclass(frozen=True)
class NeverAbove:
    """No step cost may exceed threshold; max_rate (optional) bounds its probability."""

    anytime = True

    threshold: float
    max_rate: float | None = None

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult:
        return check_never(data.need("max_step_cost"), self.threshold, confidence, self.max_rate)

    def anytime_codes(
        self, data: EpisodeData, confidence: float, horizon: Horizon | None = None
    ) -> np.ndarray:
        hits = data.need("max_step_cost") > self.threshold
        return anytime.never_codes(hits, self.max_rate, confidence)

    def anytime_result(
        self,
        data: EpisodeData,
        confidence: float,
        code: int,
        final: bool,
        horizon: Horizon | None = None,
    ) -> ConstraintResult:
        peaks = data.need("max_step_cost")
        peak = float(peaks.max()) if peaks.size else math.nan
        hits, verdict = peaks > self.threshold, verdict_of(code)
        return built.never(hits, peak, self.threshold, self.max_rate, confidence, verdict)


@dataclass(frozen=True)
class InterventionRate:
    """Shield interventions below limit: share of episodes, or mean share of steps."""

    anytime = True

    limit: float
    per: Literal["episode", "step"] = "episode"

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult:
        steps = data.need("steps") if self.per == "step" else None
        return check_intervention_rate(data.need("interventions"), self.limit, confidence, steps)

    def _values(self, data: EpisodeData) -> np.ndarray:
        counts = data.need("interventions")
        if self.per == "episode":
            return counts > 0
        return step_fractions(counts, data.need("steps"))

    def anytime_codes(
        self, data: EpisodeData, confidence: float, horizon: Horizon | None = None
    ) -> np.ndarray:
        values = self._values(data)
        if self.per == "episode":
            level = proportion_log_level(self.limit, confidence, horizon)
            return anytime.proportion_codes(values, self.limit, confidence, level)
        return anytime.bounded_mean_codes(values, self.limit, confidence)

    def anytime_result(
        self,
        data: EpisodeData,
        confidence: float,
        code: int,
        final: bool,
        horizon: Horizon | None = None,
    ) -> ConstraintResult:
        values = self._values(data)
        if self.per == "step":
            return built.bounded_mean(values, self.limit, confidence, verdict_of(code))
        what = "had a shield intervention"
        verdict = verdict_of(code)
        return built.proportion(
            "intervention_rate", values, self.limit, confidence, verdict, what, horizon
        )


class _PairedCheck:
    """The anytime side of the regression checks: each gives `pairs` and `name`. Undecided
    at the maximum they PASS: no significant regression shown."""

    anytime = True
    passes_at_max = True
    name: str

    def pairs(self, data: EpisodeData) -> PairedCounts:
        raise NotImplementedError

    def anytime_codes(
        self, data: EpisodeData, confidence: float, horizon: Horizon | None = None
    ) -> np.ndarray:
        pairs = self.pairs(data)
        level = regression_log_level(confidence, horizon)
        return anytime.regression_codes(pairs.worse, pairs.better, confidence, level)

    def anytime_result(
        self,
        data: EpisodeData,
        confidence: float,
        code: int,
        final: bool,
        horizon: Horizon | None = None,
    ) -> ConstraintResult:
        """Undecided at the end of the budget is the fixed test's final PASS: no significant
        regression shown."""
        verdict = Verdict.PASS if code == 0 and final else verdict_of(code)
        pairs = self.pairs(data)
        return built.regression(self.name, pairs, confidence, verdict, code == 1, horizon)


@dataclass(frozen=True)
class ViolationRegression(_PairedCheck):
    """The candidate must not violate cost_limit significantly more often than the baseline."""

    name = "violation_regression"

    cost_limit: float

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult:
        return check_violation_regression(
            data.cost, data.need("baseline_cost"), self.cost_limit, confidence, final
        )

    def pairs(self, data: EpisodeData) -> PairedCounts:
        return violation_pairs(data.cost, data.need("baseline_cost"), self.cost_limit)


@dataclass(frozen=True)
class CostRegression(_PairedCheck):
    """The candidate's episode cost must not significantly tend to exceed the baseline's."""

    name = "cost_regression"

    def evaluate(self, data: EpisodeData, confidence: float, final: bool) -> ConstraintResult:
        return check_cost_regression(data.cost, data.need("baseline_cost"), confidence, final)

    def pairs(self, data: EpisodeData) -> PairedCounts:
        return cost_pairs(data.cost, data.need("baseline_cost"))
