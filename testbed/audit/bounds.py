"""Confidence bounds for safety audits: the maths, without verdicts (see testbed.audit.stats).

- proportions: exact Clopper–Pearson (Clopper & Pearson 1934, Biometrika 26:404);
- CVaR_α of costs in [0, B]: distribution-free DKW bounds (Thomas & Learned-Miller 2019,
  ICML, "Concentration inequalities for conditional value at risk"; DKW with Massart's 1990
  constant), a tighter upper bound from the Rockafellar–Uryasev formula with betting, and an
  approximate percentile bootstrap for when B is unknown;
- means of values in [0, 1]: betting confidence bounds (Waudby-Smith & Ramdas 2023, JRSS-B
  86:1, "Estimating means of bounded random variables by betting"), predictable plug-in bets
  with fixed-n tuning.

`confidence` is 1 - δ throughout.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy import special

Side = Literal["two-sided", "upper", "lower"]


def error_rate(confidence: float) -> float:
    """δ = 1 - confidence, checked to lie in (0, 1)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return 1.0 - confidence


def as_values(values: object, name: str) -> np.ndarray:
    """A flat float array of finite numbers (ValueError naming `name` otherwise)."""
    x = np.asarray(values, dtype=float).reshape(-1)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite numbers")
    return x


def clopper_pearson(
    k: int, n: int, confidence: float = 0.95, side: Side = "two-sided"
) -> tuple[float, float]:
    """Exact binomial confidence bounds (L, U) for p from k successes in n trials.

    U = Beta⁻¹(1-γ; k+1, n-k) (1 if k = n), L = Beta⁻¹(γ; k, n-k+1) (0 if k = 0), with
    γ = δ/2 for "two-sided", γ = δ for the one-sided "upper" (L = 0) and "lower" (U = 1).
    P(p > U) <= γ and P(p < L) <= γ for every p (Clopper & Pearson 1934). For k = 0 the
    one-sided upper bound is 1 - δ^(1/n). n = 0 gives (0, 1).
    """
    delta = error_rate(confidence)
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    gamma = delta / 2 if side == "two-sided" else delta
    lower = 0.0 if k == 0 or side == "upper" else float(special.betaincinv(k, n - k + 1, gamma))
    upper = 1.0 if k == n or side == "lower" else float(special.betaincinv(k + 1, n - k, 1 - gamma))
    return lower, upper


def _tail_mean(values: np.ndarray, weights: np.ndarray, alpha: float) -> float:
    """Mean of the top `alpha` probability mass of a discrete law (values ascending)."""
    above = np.cumsum(weights[::-1])[::-1]  # mass at or above each value
    take = np.clip(alpha - (above - weights), 0.0, weights)
    return float(np.dot(take, values) / alpha)


def cvar(costs: object, alpha: float) -> float:
    """Empirical CVaR_α: mean of the worst α share of episode costs (fractional at the edge).

    CVaR_α(X) = min_t t + E[(X - t)_+]/α (Rockafellar & Uryasev 2000, J. Risk 2:21)
              = (1/α) ∫_{1-α}^1 F⁻¹(u) du for the upper tail; this is that integral for
    the empirical law. α = 1 gives the mean.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    x = np.sort(as_values(costs, "costs"))
    if x.size == 0:
        return math.nan
    return _tail_mean(x, np.full(x.size, 1.0 / x.size), alpha)


def dkw_epsilon(n: int, confidence: float) -> float:
    """ε with P(sup_x |F_n(x) - F(x)| > ε) <= δ: sqrt(ln(2/δ) / 2n) (DKW, Massart 1990)."""
    return math.sqrt(math.log(2.0 / error_rate(confidence)) / (2 * n)) if n else math.inf


def cvar_bounds_dkw(
    costs: object, alpha: float, confidence: float = 0.95, cost_bound: float | None = None
) -> tuple[float, float]:
    """Two-sided 1 - δ bounds on CVaR_α for costs in [0, cost_bound].

    On the DKW event F_n - ε <= F <= F_n + ε the true law is stochastically between
    (upper) F_n with its lowest ε of mass moved to cost_bound and (lower) F_n with its top
    ε moved to 0; CVaR is monotone in that order (Thomas & Learned-Miller 2019), so their
    CVaRs bound it. The lower bound needs only costs >= 0; the upper is inf without a bound.
    Each bound alone fails with probability <= δ/2 (Massart's one-sided inequality).
    """
    x = np.sort(as_values(costs, "costs"))
    n = x.size
    if n and x[0] < 0:
        raise ValueError("costs must be nonnegative")
    if cost_bound is not None and n and x[-1] > cost_bound:
        raise ValueError(f"a cost {x[-1]:g} exceeds cost_bound {cost_bound:g}")
    top = math.inf if cost_bound is None else float(cost_bound)
    if n == 0:
        return 0.0, top
    eps = min(dkw_epsilon(n, confidence), 1.0)
    edges = np.arange(n + 1) / n  # atom i holds (edges[i], edges[i+1]] of the mass
    low_part = np.clip(np.minimum(edges[1:], 1 - eps) - edges[:-1], 0.0, None)
    lower = _tail_mean(np.concatenate(([0.0], x)), np.concatenate(([eps], low_part)), alpha)
    if cost_bound is None:
        return lower, math.inf
    high_part = np.clip(edges[1:] - np.maximum(edges[:-1], eps), 0.0, None)
    upper = _tail_mean(np.concatenate((x, [top])), np.concatenate((high_part, [eps])), alpha)
    return lower, upper


def cvar_upper_betting(
    costs: object, alpha: float, cost_bound: float, confidence: float = 0.975
) -> float:
    """One-sided upper bound on CVaR_α for costs in [0, cost_bound]: P(CVaR_α > U) <= δ.

    By Rockafellar & Uryasev, CVaR_α(X) <= t + E[(X - t)_+]/α for every t. On a fixed grid
    of t (B·k/8 for k < 8 and B/2^j for j = 4..10, so it also suits bounds B far above the
    typical cost) the mean of (X - t)_+/(B - t) in [0, 1] gets a betting bound at δ/|grid|;
    U = min over the grid (union bound over it). Much tighter than the DKW upper bound, since
    betting adapts to the small variance of the tail excess.
    """
    x = as_values(costs, "costs")
    top = float(cost_bound)
    if x.size and (x.min() < 0 or x.max() > top):
        raise ValueError(f"costs must lie in [0, cost_bound={top:g}]")
    if x.size == 0:
        return top
    grid = np.unique(np.concatenate((np.arange(8) / 8, 0.5 ** np.arange(4, 11)))) * top
    excess = np.maximum(x[None, :] - grid[:, None], 0.0) / (top - grid)[:, None]
    means = _betting_upper(excess, error_rate(confidence) / grid.size)
    return float(min(top, np.min(grid + means * (top - grid) / alpha)))


def cvar_upper_bootstrap(
    costs: object, alpha: float, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> float:
    """Percentile-bootstrap upper bound on CVaR_α: the `confidence` quantile of resampled
    CVaRs. APPROXIMATE: no finite-sample guarantee, and it tends to undercover for heavy or
    rarely sampled tails (the worst cost never seen cannot be resampled)."""
    x = as_values(costs, "costs")
    n = x.size
    if n == 0:
        return math.inf
    rng = np.random.default_rng(seed)
    samples = np.sort(x[rng.integers(0, n, size=(resamples, n))], axis=1)
    weights = np.clip(alpha - (np.arange(n, 0, -1) - 1) / n, 0.0, 1.0 / n) / alpha
    return float(np.quantile(samples @ weights, confidence))


def _betting_upper(x: np.ndarray, delta: float, cap: float = 0.75) -> np.ndarray:
    """Upper 1 - δ betting bounds on the means of the rows of x (values in [0, 1]).

    For a candidate mean m, K(m) = Π_i (1 + λ_i(m)·(m - x_i)) with λ_i(m) = min(λ̂_i,
    cap/(1-m)) and λ̂_i = sqrt(2 ln(1/δ) / (n σ̂²_{i-1})) predictable (uses x_1..x_{i-1}).
    Under mean μ, K(μ) is a nonnegative martingale with E = 1, so P(K(μ) >= 1/δ) <= δ
    (Markov; Ville for all n at once). K is nondecreasing in m, so the bound U is the
    smallest m with K(m) >= 1/δ, found by bisection to 2^-24 (rounded up: still valid).
    """
    x = np.atleast_2d(x)
    rows, n = x.shape
    if n == 0:
        return np.ones(rows)
    i = np.arange(1, n + 1)
    mean_after = (0.5 + np.cumsum(x, axis=1)) / (i + 1)
    spread = np.cumsum((x - mean_after) ** 2, axis=1)
    var_before = (0.25 + np.concatenate((np.zeros((rows, 1)), spread[:, :-1]), axis=1)) / i
    bet = np.sqrt(2 * math.log(1 / delta) / (n * var_before))
    threshold = math.log(1 / delta)

    def rejected(m: np.ndarray) -> np.ndarray:
        lam = np.minimum(bet, (cap / (1 - m))[:, None])
        return np.sum(np.log1p(lam * (m[:, None] - x)), axis=1) >= threshold

    lo, hi = np.zeros(rows), np.ones(rows)
    below_one = rejected(np.full(rows, 1.0 - 1e-12))
    for _ in range(24):
        mid = (lo + hi) / 2
        hit = rejected(mid)
        lo, hi = np.where(hit, lo, mid), np.where(hit, mid, hi)
    return np.where(below_one, hi, 1.0)


def bounded_mean_bounds(values: object, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided 1 - δ bounds on the mean of i.i.d. values in [0, 1], by betting
    (Waudby-Smith & Ramdas 2023); δ/2 per side, lower = 1 - upper of 1 - x. Adapts to the
    variance: all-zero data give about 1.3·ln(2/δ)/n, not DKW/Hoeffding's sqrt(ln(2/δ)/2n).
    The bound depends on the order of the values, so pass them in seed order."""
    x = as_values(values, "values")
    if np.any((x < 0) | (x > 1)):
        raise ValueError("values must lie in [0, 1]")
    half = error_rate(confidence) / 2
    return 1.0 - float(_betting_upper(1.0 - x, half)[0]), float(_betting_upper(x, half)[0])


def binomial_half_tail(successes: int, trials: int) -> float:
    """P(Bin(trials, 1/2) >= successes)."""
    if successes <= 0:
        return 1.0
    return float(special.bdtrc(successes - 1, trials, 0.5))
