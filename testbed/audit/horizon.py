"""Exact decision thresholds for the count-based e-processes of an audit with a known horizon.

Ville's inequality ((1) in `testbed.audit.anytime`) makes 1/δ a valid threshold for an
e-process over an unbounded horizon. An audit fixes its range of episode counts [n_min,
n_max] before any data; over that range the probability that the e-process ever reaches a
level can be computed exactly when the data are counts, by recursion over the distribution
of the count that has not crossed yet (Armitage, McPherson & Rowe 1969, J. R. Statist. Soc.
A 132:235, "Repeated significance tests on accumulating data", Sect. 2: the exact binomial
recursion behind every group-sequential design):

    (1)  P(S_t = s, no crossing before t) = P(S_{t-1} = s, ...)·(1 - p)
                                          + P(S_{t-1} = s - 1, ...)·p,

with the mass that crosses at t (n_min <= t <= n_max) removed and summed. The threshold used
is the smallest level c <= 1/δ whose crossing probability under the null is <= δ (searched
on refined grids; the crossing probability only falls as c grows). The verdicts then keep error δ
for ANY stopping rule within [n_min, n_max] (they are a function of the prefix, and the bound
is on the union over every count in the range), but not past n_max: an audit must not be
extended after it saw data (the scenario fixes max_episodes).

Proportions: the beta-binomial mixture M_t(p0) of `anytime` (2), null p = p0. For fixed t
the set {s : M_t(p0) >= c, s/t < p0} is {s <= a_t} (log M_t(p0) is convex in s and below 0
at s = p0·t), so "ever PASS" is a decreasing event of the outcomes and its probability falls
as the true p grows: P_p(wrong PASS) <= P_p0(PASS) for p >= p0, likewise FAIL for p <= p0,
and both together are <= δ at p0, which the recursion bounds.

Paired regressions: among discordant pairs the candidate is worse with probability q; the
null q = 1/2 is the worst case for R^> of `anytime` (7) by the same monotonicity. The
recursion runs over up to n_max discordant pairs (there are at most as many as episodes, and
more pairs only add chances to cross), and the threshold for R^< is the same by symmetry.

Mass further than 12 standard deviations from the null mean (< 1e-30) is counted as crossing,
which only raises the crossing probability: the threshold stays valid. Beyond
`MAX_EXACT_HORIZON` episodes the recursion is too slow and Ville's 1/δ is used.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from testbed.audit import anytime
from testbed.audit.anytime import half_mixture_log_e, log_beta_binomial_mixture
from testbed.audit.bounds import error_rate

MAX_EXACT_HORIZON = 20_000
BAND_SIGMAS = 12.0
GRID, ROUNDS = 24, 3


@dataclass(frozen=True)
class Horizon:
    """The episode counts an audit may decide at, fixed before any data."""

    first: int
    last: int

    def exact(self) -> bool:
        return self.last <= MAX_EXACT_HORIZON


def ville_log_level(confidence: float) -> float:
    return math.log(1 / error_rate(confidence))


def _band(t: int, p: float) -> tuple[int, int]:
    spread = BAND_SIGMAS * math.sqrt(t * p * (1 - p)) + 2
    return max(0, math.floor(t * p - spread)), min(t, math.ceil(t * p + spread))


def _log_e_rows(log_e, p: float, horizon: Horizon) -> list[tuple[int, np.ndarray]]:
    """(first count of the band, log-e over the band) for t = 1..last (one vectorised call)."""
    bands = [_band(t, p) for t in range(1, horizon.last + 1)]
    sizes = np.array([hi - lo + 1 for lo, hi in bands])
    t = np.repeat(np.arange(1, horizon.last + 1), sizes)
    s = np.concatenate([np.arange(lo, hi + 1) for lo, hi in bands]).astype(float)
    values = np.split(log_e(s, t - s), np.cumsum(sizes)[:-1])
    return [(lo, row) for (lo, _), row in zip(bands, values, strict=True)]


def crossing_probabilities(
    rows: list[tuple[int, np.ndarray]], p: float, first: int, log_levels: np.ndarray
) -> np.ndarray:
    """P(log-e >= level at some t in [first, len(rows)]) for counts ~ Binomial(t, p), for each
    of `log_levels` at once, by the recursion (1); mass leaving the band counts as crossing."""
    levels = np.asarray(log_levels, float).reshape(-1, 1)
    dist = np.ones((levels.size, 1))  # P(S_t = start + i, not crossed), from t = 0
    start, crossed = 0, np.zeros(levels.size)
    for t, (lo, values) in enumerate(rows, start=1):
        grown = np.zeros((levels.size, dist.shape[1] + 1))
        grown[:, :-1] += dist * (1 - p)
        grown[:, 1:] += dist * p
        offset = lo - start  # grown holds counts start.., the band is lo..lo + size - 1
        kept = grown[:, max(0, offset) : offset + values.size]
        crossed += grown.sum(axis=1) - kept.sum(axis=1)
        dist = np.zeros((levels.size, values.size))
        dist[:, max(0, -offset) : max(0, -offset) + kept.shape[1]] = kept
        start = lo
        if t >= first:
            hit = values[None, :] >= levels
            crossed += np.where(hit, dist, 0.0).sum(axis=1)
            dist[hit] = 0.0
    return crossed


def _calibrate(rows: list[tuple[int, np.ndarray]], p: float, first: int, delta: float) -> float:
    """The smallest log level <= log(1/δ) whose crossing probability is <= δ, to within
    log(1/δ)/GRID^ROUNDS (a grid of levels per round, each round inside the last's gap)."""
    lo, hi = 0.0, math.log(1 / delta)
    for _ in range(ROUNDS):
        levels = np.linspace(lo, hi, GRID)
        valid = crossing_probabilities(rows, p, first, levels) <= delta
        k = int(np.argmax(valid))  # valid is monotone and valid[-1] holds (Ville)
        if k == 0:
            return float(levels[0])
        lo, hi = float(levels[k - 1]), float(levels[k])
    return hi


@functools.lru_cache(maxsize=128)
def proportion_log_level(p0: float, confidence: float, horizon: Horizon | None) -> float:
    """log of the threshold for M_t(p0) of the proportion test over `horizon`."""
    if horizon is None or not horizon.exact() or not 0.0 < p0 < 1.0:
        return ville_log_level(confidence)
    rows = _log_e_rows(lambda s, f: log_beta_binomial_mixture(s, f, p0, p0), p0, horizon)
    return _calibrate(rows, p0, horizon.first, error_rate(confidence))


@functools.lru_cache(maxsize=8)
def _regression_rows(horizon: Horizon) -> list[tuple[int, np.ndarray]]:
    return _log_e_rows(lambda b, c: half_mixture_log_e(b, c)[0], 0.5, horizon)


@functools.lru_cache(maxsize=128)
def regression_log_level(confidence: float, horizon: Horizon | None) -> float:
    """log of the threshold for R^> (and R^<) over up to horizon.last discordant pairs."""
    if horizon is None or not horizon.exact():
        return ville_log_level(confidence)
    rows = _regression_rows(Horizon(1, horizon.last))
    return _calibrate(rows, 0.5, 1, error_rate(confidence))


def regression_p_value(max_log_e: float, horizon: Horizon | None) -> float:
    """P(max R^> over the horizon >= exp(max_log_e)) under q = 1/2, the exact sequential
    p-value (Ville's bound exp(-max_log_e) without a horizon)."""
    ville = min(1.0, math.exp(-max(0.0, max_log_e)))
    if horizon is None or not horizon.exact():
        return ville
    rows = _regression_rows(Horizon(1, horizon.last))
    return min(ville, float(crossing_probabilities(rows, 0.5, 1, np.array([max_log_e]))[0]))


def _proportion_rows(p: float, p0: float, horizon: Horizon) -> list[tuple[int, np.ndarray]]:
    return _log_e_rows(lambda s, f: log_beta_binomial_mixture(s, f, p, p0), p, horizon)


def proportion_rejects(k: int, n: int, p: float, p0: float, delta: float, horizon: Horizon) -> bool:
    """Whether M_n(p) (mixing law centred on p0) after k hits in n lies in the exact level-δ
    rejection region for p: P_p(the e-process ever reaches its value in the horizon) <= δ."""
    if not 0.0 < p < 1.0:
        return (k > 0) if p == 0.0 else (k < n)
    observed = float(log_beta_binomial_mixture(k, n - k, p, p0))
    if observed <= 0.0:
        return False
    rows = _proportion_rows(p, p0, horizon)
    return float(crossing_probabilities(rows, p, horizon.first, np.array([observed]))[0]) <= delta


def proportion_interval(
    k: int, n: int, p0: float, confidence: float, horizon: Horizon | None, steps: int = 12
) -> tuple[float, float]:
    """The exact confidence sequence {p : not rejected} after k hits in n over `horizon`, its
    ends found by bisection between the estimate and 0 / 1, or the limit when it is rejected
    (to about 2^-steps of that gap);
    Ville's sequence (`testbed.audit.anytime`) without an exact horizon."""
    if horizon is None or not horizon.exact() or n == 0:
        return anytime.proportion_interval(k, n, p0, confidence)
    delta, centre = error_rate(confidence), k / n

    def end(inside: float, outside: float) -> float:
        if not proportion_rejects(k, n, outside, p0, delta, horizon):
            return outside
        for _ in range(steps):
            mid = (inside + outside) / 2
            inside, outside = (
                (inside, mid)
                if proportion_rejects(k, n, mid, p0, delta, horizon)
                else (mid, outside)
            )
        return outside

    # the limit, when rejected, bounds the search on its side (the verdict and interval agree)
    limit_out = proportion_rejects(k, n, p0, p0, delta, horizon)
    lower = end(centre, p0 if limit_out and p0 < centre else 0.0)
    upper = end(centre, p0 if limit_out and p0 > centre else 1.0)
    return lower, upper
