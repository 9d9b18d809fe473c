"""Exact thresholds for a known episode range: the recursion against brute-force enumeration
of every outcome sequence, the thresholds' exactness, intervals that agree with the verdicts,
and the exact regression p-value."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from testbed.audit import anytime, horizon
from testbed.audit.sequential import EpisodeData, SequentialAudit, ViolationRate

DELTA = 0.05


def _enumerated_crossing(log_e, p: float, first: int, last: int, level: float) -> float:
    """P(log_e(S_t, t - S_t) >= level for some t in [first, last]) by listing all 2^last
    sequences."""
    total = 0.0
    for outcome in itertools.product((0, 1), repeat=last):
        s = np.cumsum(outcome)
        t = np.arange(1, last + 1)
        values = log_e(s.astype(float), (t - s).astype(float))
        if (values[first - 1 :] >= level).any():
            k = int(s[-1])
            total += p**k * (1 - p) ** (last - k)
    return total


@pytest.mark.parametrize("level", [0.5, 1.2, 2.0])
def test_recursion_equals_enumeration_of_every_sequence(level):
    p0, first, last = 0.3, 3, 12
    rows = horizon._proportion_rows(p0, p0, horizon.Horizon(first, last))
    got = horizon.crossing_probabilities(rows, p0, first, np.array([level]))[0]

    def log_e(s, f):
        return anytime.log_beta_binomial_mixture(s, f, p0, p0)

    assert got == pytest.approx(_enumerated_crossing(log_e, p0, first, last, level), abs=1e-12)
    regression_rows = horizon._regression_rows(horizon.Horizon(1, last))
    got = horizon.crossing_probabilities(regression_rows, 0.5, 1, np.array([level]))[0]

    def worse(b, c):
        return anytime.half_mixture_log_e(b, c)[0]

    assert got == pytest.approx(_enumerated_crossing(worse, 0.5, 1, last, level), abs=1e-12)


def test_the_threshold_is_the_smallest_with_error_at_most_delta():
    window = horizon.Horizon(30, 1000)
    level = horizon.proportion_log_level(0.1, 0.95, window)
    rows = horizon._proportion_rows(0.1, 0.1, window)
    errors = horizon.crossing_probabilities(rows, 0.1, 30, np.array([level, level - 0.01]))
    ville = horizon.crossing_probabilities(rows, 0.1, 30, np.array([math.log(1 / DELTA)]))[0]
    assert errors[0] <= DELTA < errors[1]  # exact: a hair lower would exceed δ
    assert ville < 0.04 and level < math.log(1 / DELTA) - 0.3  # Ville's 20 wastes error here
    assert horizon.proportion_log_level(0.1, 0.95, None) == pytest.approx(math.log(1 / DELTA))


def test_exact_intervals_agree_with_the_exact_verdicts():
    rng = np.random.default_rng(3)
    window = horizon.Horizon(30, 400)
    level = horizon.proportion_log_level(0.1, 0.95, window)
    for p in (0.02, 0.1, 0.25):
        hits = rng.random(400) < p
        codes = anytime.proportion_codes(hits, 0.1, 0.95, level)
        for t in (60, 400):
            k = int(hits[:t].sum())
            lower, upper = horizon.proportion_interval(k, t, 0.1, 0.95, window)
            ville_lower, ville_upper = anytime.proportion_interval(k, t, 0.1, 0.95)
            assert ville_lower <= lower <= k / t <= upper <= ville_upper
            assert (codes[t - 1] == 1) == (upper < 0.1)
            assert (codes[t - 1] == -1) == (lower > 0.1)


def test_exact_error_at_the_limit_under_optional_stopping():
    """Simulated audits at the limit (every verdict wrong), stopping at the first decision:
    the wrong rate stays within δ plus Monte-Carlo slack, and exceeds Ville's (which leaves
    error unused within 1,000 episodes)."""
    rng = np.random.default_rng(4)
    wrong = {"anytime": 0, "open": 0}
    reps = 600
    for _ in range(reps):
        data = EpisodeData(cost=(rng.random(1000) < 0.1) * 5.0)
        for key, open_ended in (("anytime", False), ("open", True)):
            audit = SequentialAudit([ViolationRate(1, 0.1)], open_ended=open_ended)
            audit.add(data)
            wrong[key] += audit.verdict().value != "INCONCLUSIVE"
    assert wrong["anytime"] <= 0.05 * reps + 3 * math.sqrt(0.05 * 0.95 * reps)
    assert wrong["anytime"] >= wrong["open"]


def test_exact_regression_p_value_matches_enumeration():
    last = 10
    window = horizon.Horizon(1, last)
    observed = 1.1

    def worse(b, c):
        return anytime.half_mixture_log_e(b, c)[0]

    expected = _enumerated_crossing(worse, 0.5, 1, last, observed)
    assert horizon.regression_p_value(observed, window) == pytest.approx(expected, abs=1e-12)
    assert horizon.regression_p_value(observed, None) == pytest.approx(math.exp(-observed))
