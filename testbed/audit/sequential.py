"""Sequential audits: look at the data after each batch, stop once every verdict is decided.

Two methods, chosen per audit (`sequential:` in a scenario):

`anytime` (the default): each check is an anytime-valid test (`testbed.audit.anytime`: the
maths and the papers), whose verdict after any prefix of the episodes keeps the stated error
whatever rule decides when to stop. The count-based checks (violation and per-episode
intervention rates, paired regressions) use the exact threshold for the audit's range
[min_episodes, max_episodes] (`testbed.audit.horizon`), valid for any stopping within it;
`open_ended=True` (`sequential: open-ended`) keeps Ville's thresholds, valid even if the
range is extended later. The audit evaluates every prefix from min_episodes on and stops at
the first episode count where every check has a verdict; its verdicts and the episode count
do not depend on how episodes were batched. A check without an anytime test
(CVaR without cost_bound, whose upper bound is a bootstrap) makes its audit use `looks`.
Each result also carries the fixed-sample check's answer on the same episodes
(`fixed_sample`), at the full confidence, for comparison only: it is not valid after
optional stopping.

`looks`: a group-sequential design with a fixed geometric look schedule and Bonferroni
alpha-spending (reproduces audits run before `anytime` existed). The looks are n_1 =
min_episodes, n_{j+1} = ceil(growth · n_j), ..., n_J = max_episodes, fixed before any data is
seen. At look j every undecided constraint is checked on the first n_j episodes with the
exact fixed-n method of `testbed.audit.stats` at confidence 1 - δ/J. For one constraint

    P(some look gives a wrong verdict) <= Σ_j P(wrong at look j) <= J · δ/J = δ,

whatever rule decides when to stop (the union bound needs no independence between looks
and no assumption on the stopping rule). Regression checks cannot PASS early there: they
FAIL at the first significant look, and PASS only at the last look.

Both: still undecided at max_episodes -> INCONCLUSIVE (regressions: PASS, no significant
regression). Decided constraints are re-checked while others are still open: the latest
PASS/FAIL is reported and an open state does not erase an earlier decision (any reported
verdict is the verdict at some time, which the guarantees cover); this way a "never" event
seen after an early PASS turns it into FAIL. Fixed-n audits are the special case
min_episodes = max_episodes (one look, full confidence, the exact fixed-n methods).

Data must arrive in seed order (episode k of the run is element k), never in completion
order; a batch may end anywhere: the audit uses the exact prefix and ignores episodes past
the point where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from testbed.audit.constraints import (
    FIELDS,
    Constraint,
    CostRegression,
    CVaRLimit,
    EpisodeData,
    InterventionRate,
    NeverAbove,
    ViolationRate,
    ViolationRegression,
    verdict_of,
)
from testbed.audit.horizon import Horizon
from testbed.audit.stats import ConstraintResult, Verdict, overall_verdict

__all__ = [
    "FIELDS",
    "Constraint",
    "CVaRLimit",
    "CostRegression",
    "EpisodeData",
    "InterventionRate",
    "Method",
    "NeverAbove",
    "SequentialAudit",
    "ViolationRate",
    "ViolationRegression",
    "look_schedule",
]

Method = Literal["anytime", "looks"]


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
        method: Method = "anytime",
        open_ended: bool = False,
    ) -> None:
        if not constraints:
            raise ValueError("an audit needs at least one constraint")
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        if method not in ("anytime", "looks"):
            raise ValueError(f"method must be 'anytime' or 'looks', got {method!r}")
        self.constraints = tuple(constraints)
        self.confidence = confidence
        self.looks = look_schedule(min_episodes, max_episodes, growth)
        self.min_episodes, self.max_episodes = min_episodes, max_episodes
        fixed = min_episodes == max_episodes
        self.method: Method = "looks" if fixed or not self._all_anytime() else method
        self.look_confidence = 1.0 - (1.0 - confidence) / len(self.looks)
        self._data: EpisodeData | None = None
        self._next_look = 0
        self._results: list[ConstraintResult | None] = [None] * len(self.constraints)
        self._stop: int | None = None  # anytime: the episode count the audit stopped at
        self._decided_at: list[tuple[int, int]] = []  # anytime: (count, code) per constraint
        self.open_ended = open_ended
        self.horizon = None if open_ended else Horizon(min_episodes, max_episodes)

    def _all_anytime(self) -> bool:
        return all(getattr(c, "anytime", False) for c in self.constraints)

    @property
    def n_seen(self) -> int:
        """Episodes received so far."""
        return 0 if self._data is None else len(self._data)

    @property
    def n_used(self) -> int:
        """Episodes the verdicts rest on (0 before the first decision point)."""
        if self.method == "anytime":
            return self._stop or 0
        return self.looks[self._next_look - 1] if self._next_look else 0

    def add(self, batch: EpisodeData) -> None:
        """Append the next episodes (in seed order) and evaluate what they complete."""
        if self.finished():
            return
        self._data = batch if self._data is None else self._data.concat(batch)
        if self.method == "anytime":
            self._scan()
            return
        while not self.finished() and self.n_seen >= self.looks[self._next_look]:
            self._evaluate_look(self._next_look)
            self._next_look += 1

    def episodes_needed(self) -> int:
        """How many more episodes to play before the next evaluation (0 when finished):
        up to the next look, or (anytime) min_episodes first, then batches of 5 %."""
        if self.finished():
            return 0
        if self.method == "looks":
            return max(0, self.looks[self._next_look] - self.n_seen)
        if self.n_seen < self.min_episodes:
            return self.min_episodes - self.n_seen
        return min(self.max_episodes - self.n_seen, max(1, math.ceil(self.n_seen / 20)))

    def decided(self) -> bool:
        """Every constraint has a PASS or FAIL."""
        if self.method == "anytime":
            return self._stop is not None and all(code for _, code in self._decided_at)
        return all(r is not None and r.verdict != Verdict.INCONCLUSIVE for r in self._results)

    def finished(self) -> bool:
        """Decided, or max_episodes evaluated."""
        if self.method == "anytime":
            return self._stop is not None
        return self.decided() or self._next_look == len(self.looks)

    def results(self) -> list[ConstraintResult]:
        """Each constraint's latest decided result, or its latest one if never decided."""
        if self.method == "anytime":
            return self._anytime_results()
        if self._next_look == 0:
            raise RuntimeError(f"no look evaluated yet: the first is at {self.looks[0]} episodes")
        return [r for r in self._results if r is not None]

    def verdict(self) -> Verdict:
        """The overall verdict (for anytime audits without building the intervals)."""
        if self.method == "anytime" and self._stop is not None:
            at_max = [
                Verdict.PASS if getattr(c, "passes_at_max", False) else Verdict.INCONCLUSIVE
                for c in self.constraints
            ]
            verdicts = [
                verdict_of(code) if code else undecided
                for undecided, (_, code) in zip(at_max, self._decided_at, strict=True)
            ]
            if Verdict.FAIL in verdicts:
                return Verdict.FAIL
            return Verdict.PASS if set(verdicts) == {Verdict.PASS} else Verdict.INCONCLUSIVE
        return overall_verdict(self.results())

    def revisit(self, data: EpisodeData, end: int) -> None:
        """An anytime audit that stopped before `end` (others of the same run went on) reads
        the episodes up to `end` too, so a later event can still change its latest verdict
        (a "never" step turns a PASS into FAIL). Any reported verdict is still the verdict at
        some count, which the guarantee covers."""
        if self.method != "anytime" or self._stop is None or end <= self._stop:
            return
        if len(data) < end:
            raise ValueError(f"revisit needs {end} episodes, got {len(data)}")
        self._data, self._stop = data, None
        self._results = [None] * len(self.constraints)
        self._scan(until=end)

    def _scan(self, until: int | None = None) -> None:
        """Find the first count in [min, max] where every constraint has a verdict. Data a
        constraint cannot take (a cost above its cost_bound) raise only if the audit reaches
        them, so where it stops never depends on how episodes were batched."""
        n = min(self.n_seen, self.max_episodes, until or self.max_episodes)
        if n < self.min_episodes:
            return
        assert self._data is not None
        data = self._data[:n]
        valid = [getattr(c, "valid_prefix", lambda d: len(d))(data) for c in self.constraints]
        usable = min(valid)
        first = self.min_episodes
        stop = None
        if usable >= first:
            usable_data = data[:usable]
            codes = np.stack(
                [
                    c.anytime_codes(usable_data, self.confidence, self.horizon)
                    for c in self.constraints
                ]
            )
            window = codes[:, first - 1 :]  # counts first..usable
            opened = np.maximum.accumulate(window != 0, axis=1).all(axis=0)
            stop = first + int(np.argmax(opened)) if opened.any() else None
            if until is not None:  # revisiting: the latest verdicts up to `until`
                stop = n if usable == n else None
        if stop is None and usable < n:
            bad = valid.index(usable)  # its own check raises the error, naming the value
            self.constraints[bad].anytime_codes(data[: usable + 1], self.confidence, self.horizon)
        if stop is None and n < self.max_episodes and until is None:
            return
        self._stop = n if stop is None else stop
        upto = self._stop - first + 1
        self._decided_at = [_latest_decision(row[:upto], first) for row in window]

    def _anytime_results(self) -> list[ConstraintResult]:
        """At the stop (cached), or before it the state after the episodes seen so far."""
        if self._stop is not None and all(r is not None for r in self._results):
            return [r for r in self._results if r is not None]
        if self.n_seen < self.min_episodes:
            raise RuntimeError(f"no verdict before {self.min_episodes} episodes")
        assert self._data is not None
        end = self._stop or min(self.n_seen, self.max_episodes)
        decided_at = self._decided_at
        if self._stop is None:
            data, first = self._data[:end], self.min_episodes
            codes = [c.anytime_codes(data, self.confidence, self.horizon) for c in self.constraints]
            decided_at = [_latest_decision(row[first - 1 :], first) for row in codes]
        results = []
        for constraint, (count, code) in zip(self.constraints, decided_at, strict=True):
            at = count if code else end
            data = self._data[:at]
            final = not code and at >= self.max_episodes
            result = constraint.anytime_result(data, self.confidence, code, final, self.horizon)
            fixed = constraint.evaluate(data, self.confidence, True)
            note = (
                f"[anytime: decided at n={at}, {self.confidence:.2%} valid at every episode] "
                if code
                else f"[anytime: no decision in n={at}] "
            )
            results.append(
                dataclasses.replace(
                    result,
                    explanation=note + result.explanation,
                    fixed_sample=_fixed_summary(fixed),
                )
            )
        if self._stop is not None:
            self._results = list(results)
        return results

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


def _latest_decision(codes: np.ndarray, first: int) -> tuple[int, int]:
    """(count, code) of the last nonzero code (counts start at `first`), or (0, 0)."""
    nonzero = np.flatnonzero(codes)
    if nonzero.size == 0:
        return 0, 0
    last = int(nonzero[-1])
    return first + last, int(codes[last])


def _fixed_summary(result: ConstraintResult) -> dict[str, object]:
    """The fixed-sample result's verdict and numbers (non-finite numbers as None)."""
    keep = ("verdict", "lower", "upper", "p_value", "method", "n")
    return {k: v for k, v in result.to_dict().items() if k in keep}
