"""Anytime-valid tests for safety audits: verdicts that hold at every episode, no look schedule.

Every check below is built from e-processes. An e-process E_t (t = episodes seen) for a
hypothesis H is nonnegative with E_0 = 1 and is a supermartingale whenever H is true, so by
Ville's inequality (Ville 1939)

    (1)  P_H(∃ t >= 1 : E_t >= 1/γ) <= γ.

A verdict "H is false" issued the first time E_t >= 1/γ therefore keeps error γ whatever
rule decides when to stop: the audit may look after every episode and stop at the first
decision. The sets {θ : E_t(θ) < 1/γ} form a confidence sequence (CS): they contain the
true θ at all t at once with probability >= 1 - γ (Howard, Ramdas, McAuliffe & Sekhon 2021,
Ann. Statist. 49:1055, "Time-uniform, nonparametric, nonasymptotic confidence sequences").
With δ = 1 - confidence, PASS means the CS lies below the limit, FAIL above it.

Proportions (violation rate; episodes with a shield intervention). Episode i violates
(X_i = 1) with probability p. Robbins' (1970, Ann. Math. Statist. 41:1397) beta-binomial
mixture of likelihood ratios, with S_t = Σ X_i, F_t = t - S_t and a Beta(a, b) mixing law,

    (2)  M_t(p) = ∫ q^S_t (1-q)^F_t dBeta(q; a, b) / (p^S_t (1-p)^F_t)
                = B(a + S_t, b + F_t) / B(a, b) / (p^S_t (1-p)^F_t),

is a nonnegative martingale with mean 1 under p (a mixture of likelihood ratios; Howard et
al. 2021, Sect. 3, conjugate mixtures). log M_t(p) is convex in p with its minimum at
p̂ = S_t/t, so the CS {p : M_t(p) < 1/δ} is an interval around p̂, and the limit p0 lies
outside it exactly when M_t(p0) >= 1/δ. Verdict: PASS if p̂ < p0 and M_t(p0) >= 1/δ, FAIL if
p̂ > p0 and M_t(p0) >= 1/δ. Both wrong verdicts need the true p outside the CS at some t:
total error <= δ by (1), also at p = p0. The mixing law is centred on the limit,
Beta(c·p0, c·(1 - p0)) with c = 10 (chosen by simulation at design time: c = 5, 10, 20, 40
and the one-sided variants were tried on the calibration grid; c = 10 needed the fewest
episodes on average).

"Never" with a rate (no step cost above a threshold, P(episode has one) < r). A step above
the threshold is an observed fact: FAIL at once, no error. For PASS, under p >= r the process
E_t = Π_i 1{X_i = 0}/(1 - r) has E[factor] = (1 - p)/(1 - r) <= 1, so PASS at the first t
with no event and (1 - r)^-t >= 1/δ, i.e. t >= ln(1/δ)/(-ln(1 - r)): the same episodes as
the fixed-sample one-sided Clopper–Pearson bound, which is already anytime-valid here.

Bounded means (per-step intervention fraction, values in [0, 1]). Betting (Waudby-Smith &
Ramdas 2023, JRSS-B 86:1, "Estimating means of bounded random variables by betting",
Sect. 4-5). For a candidate mean m the capital of a gambler betting λ against it,

    (3)  K_t(m; λ) = Π_i (1 + λ (m - X_i)),   0 <= λ < 1/(1 - m),

is nonnegative, and a supermartingale whenever E[X] >= m. Their "diversified Kelly" (dKelly)
averages D constant bets, λ_d = f_d/(1 - m), with the fractions f_d = 1 - 4^-k (k = 1..5,
0.75 to 0.999) and 0.75·2^-k (k = 1..9, down to 0.0015), D = 14:

    (4)  E_t^+(m) = (1/D) Σ_d K_t(m; λ_d),

an average of test supermartingales, hence one (a fraction near 1 wins fast on data far
below m and loses its share at the first value near 1; the design-time simulations of the
calibration grid needed 15 % fewer episodes with the near-1 fractions than with 0.75·2^-k
alone). PASS (mean < limit) when E_t^+(limit) >=
2/δ; FAIL from the mirror image on 1 - X (E_t^-), also at 2/δ: δ/2 per side. Each factor
of (3) with these λ_d grows with m, so E_t^+ is monotone in m and the reported bounds
(bisection on m) agree with the verdicts.

CVaR_α of episode cost in [0, B]. PASS side: by Rockafellar & Uryasev (2000, J. Risk 2:21),
CVaR_α = min_g φ(g) with φ(g) = g + E[(X - g)_+]/α, so CVaR_α <= φ(g) for every g, and
CVaR_α >= c implies, for every g in a grid G fixed by the limit (g = c·k/8, k < 8, and
c(1 - 2^-j), j = 4, 5),

    (5)  E[Y_g] >= m_g(c),  Y_g = (X - g)_+/(B - g) in [0, 1],  m_g(c) = α(c - g)/(B - g),

and the average over G of the dKelly processes (4) for Y_g at m_g(c) (m_g clipped to
[0, 1)) is a test supermartingale when CVaR_α >= c: PASS when it reaches 2/δ. FAIL side:
split [0, c] into K = 32 pieces [g_k, g_{k+1}]. On a piece, (X - g)_+ >= (X - g_{k+1})_+, so
min φ over it is >= g_k + E[(X - g_{k+1})_+]/α, and φ(g) >= g >= c beyond c. CVaR_α <= c
therefore implies that for SOME k

    (6)  E[Y_{g_{k+1}}] <= α(c - g_k)/(B - g_{k+1}),

and FAIL needs every one of these K hypotheses rejected by its own lower-side dKelly process
(on 1 - Y) at 2/δ. The one that is true is rejected with probability <= δ/2, so no union
bound over the pieces is needed (an intersection-union test), and a fine split costs no
power. The reported interval ends are the largest c the FAIL side rejects and the smallest
c the PASS side rejects.

Paired regression (candidate vs baseline on the same seeds). McNemar: among discordant
pairs (one side violates, the other not) the candidate is the violator with probability q;
no regression means q <= 1/2. Sign test: the same with q = P(d > 0 | d != 0) for the cost
difference d. With b_t, c_t the counts for and against the candidate, a mixture over the
alternative half with the Beta(a, a) law restricted to it (density 2·Beta(q; a, a)),

    (7)  R_t^> = ∫_{1/2}^{1} (2q)^b_t (2(1 - q))^c_t · 2 Beta(q; a, a) dq
               = 2^(b_t + c_t + 1) B(a + b_t, a + c_t)/B(a, a) · P(Beta(a + b_t, a + c_t) > 1/2),

is a supermartingale under every q <= 1/2 (each factor's mean is 2(q'(2q - 1) + 1 - q) <= 1
for q > 1/2 >= q'), and R_t^< (the same on [0, 1/2)) under every q >= 1/2. FAIL when R^>
reaches 1/δ ("significantly less safe"), an early PASS when R^< reaches 1/δ ("significantly
safer"); undecided at the maximum: PASS, "no significant regression", as the fixed test
says. Each verdict that can be wrong has error <= δ. The reported p-value 1/max_{s<=t} R_s^>
is an anytime-valid p-value. a = 5 puts the mixing mass on modest effects (q within about
±0.3 of 1/2), the regressions worth catching; in design-time simulations of the sign-test
grid of the calibration benchmark it needed 8 % fewer episodes than the uniform law (a = 1).

Thresholds. Everything above uses Ville's 1/δ, valid over an unbounded horizon. An audit
whose episode range is fixed before any data gives the count-based checks (proportions and
the paired regressions) the smaller exact threshold for that range instead
(`testbed.audit.horizon`: Ville's bound leaves error unused within a finite range; with
[30, 1000] at δ = 0.05 the proportion threshold is 14.05, not 20).

Everything here is a function of the prefix x_1..x_t only (constant bets, cumulative
counts), so the verdict at t cannot depend on episodes after t, nor on how they were batched.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from testbed.audit.bounds import as_values, error_rate

BETA_MIXTURE_STRENGTH = 10.0
KELLY_FRACTIONS = np.concatenate((1 - 0.25 ** np.arange(1, 6), 0.75 * 0.5 ** np.arange(1, 10)))
CVAR_PIECES = 32
REGRESSION_MIXTURE = 5.0

# ---------------------------------------------------------------------------- proportions


def _prior(p0: float) -> tuple[float, float]:
    return BETA_MIXTURE_STRENGTH * p0, BETA_MIXTURE_STRENGTH * (1 - p0)


def log_beta_binomial_mixture(successes: object, failures: object, p: float, p0: float):
    """log M_t(p) of (2), elementwise over counts, with the mixing law centred on p0."""
    s, f = np.asarray(successes, float), np.asarray(failures, float)
    a, b = _prior(p0)
    with np.errstate(divide="ignore", invalid="ignore"):
        likelihood = special.xlogy(s, p) + special.xlog1py(f, -p)
    return special.betaln(a + s, b + f) - special.betaln(a, b) - likelihood


def proportion_codes(
    hits: object, p0: float, confidence: float, log_level: float | None = None
) -> np.ndarray:
    """Verdict after each prefix: +1 PASS (rate < p0), -1 FAIL (> p0), 0 open. `log_level`:
    the log threshold (default Ville's log(1/δ); `testbed.audit.horizon` gives exact ones)."""
    x = as_values(hits, "hits") > 0
    s = np.cumsum(x)
    t = np.arange(1, x.size + 1)
    level = math.log(1 / error_rate(confidence)) if log_level is None else log_level
    crossed = log_beta_binomial_mixture(s, t - s, p0, p0) >= level
    rate = s / t
    return np.where(crossed & (rate < p0), 1, np.where(crossed & (rate > p0), -1, 0))


def proportion_interval(k: int, n: int, p0: float, confidence: float) -> tuple[float, float]:
    """The CS {p : M_n(p) < 1/δ} after k hits in n (endpoints by root finding)."""
    if n == 0:
        return 0.0, 1.0
    level = math.log(1 / error_rate(confidence))

    def gap(p: float) -> float:
        return float(log_beta_binomial_mixture(k, n - k, p, p0)) - level

    centre = min(max(k / n, 1e-15), 1 - 1e-15)
    lower = 0.0 if k == 0 else optimize.brentq(gap, 1e-300, centre, xtol=1e-14)
    upper = 1.0 if k == n else optimize.brentq(gap, centre, 1 - 1e-16, xtol=1e-14)
    return lower, upper


def never_codes(hits: object, max_rate: float | None, confidence: float) -> np.ndarray:
    """ "Never": -1 from the first hit on; before it +1 once (1 - r)^-t >= 1/δ (any t
    without `max_rate`), else 0."""
    x = as_values(hits, "hits") > 0
    t = np.arange(1, x.size + 1)
    seen = np.cumsum(x) > 0
    if max_rate is None:
        enough = np.ones(x.size, bool)
    else:
        enough = t * -math.log1p(-max_rate) >= math.log(1 / error_rate(confidence))
    return np.where(seen, -1, np.where(enough, 1, 0))


# ---------------------------------------------------------------------------- bounded means


def _log_mean_exp(log_values: np.ndarray, axis: int = 0) -> np.ndarray:
    return special.logsumexp(log_values, axis=axis) - math.log(log_values.shape[axis])


def dkelly_log_capital(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """log E_t^+ of (4) for each row: x (rows, n) in [0, 1], m (rows,) in [0, 1).

    Returns (rows, n); large where the mean of a row is shown to be below its m."""
    x = np.atleast_2d(x)
    m = np.clip(np.asarray(m, float).reshape(-1), 0.0, 1 - 1e-9)
    bets = KELLY_FRACTIONS[:, None, None] / (1 - m)[None, :, None]  # (D, rows, 1)
    steps = np.log1p(bets * (m[None, :, None] - x[None, :, :]))  # (D, rows, n)
    return _log_mean_exp(np.cumsum(steps, axis=2), axis=0)


def bounded_mean_codes(values: object, limit: float, confidence: float) -> np.ndarray:
    """Per prefix: +1 mean < limit, -1 mean > limit, 0 open (δ/2 per side)."""
    x = as_values(values, "values")
    level = math.log(2 / error_rate(confidence))
    below = dkelly_log_capital(x, np.array([limit]))[0] >= level
    above = dkelly_log_capital(1 - x, np.array([1 - limit]))[0] >= level
    return np.where(below, 1, np.where(above, -1, 0))


def _smallest_rejected(reject, lo: float, hi: float, steps: int = 40) -> float:
    """The smallest m in [lo, hi] with reject(m), for reject monotone (hi if none)."""
    if not reject(hi):
        return hi
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if reject(mid) else (mid, hi)
    return hi


def _largest_rejected(reject, lo: float, hi: float, steps: int = 40) -> float:
    """The largest c in [lo, hi] with reject(c), given reject(lo) (bisection)."""
    if reject(hi):
        return hi
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if reject(mid) else (lo, mid)
    return lo


def bounded_mean_interval(values: object, confidence: float) -> tuple[float, float]:
    """The CS of (4) after all of `values`: [1 - U(1 - x), U(x)], δ/2 per side."""
    x = as_values(values, "values")
    if x.size == 0:
        return 0.0, 1.0
    level = math.log(2 / error_rate(confidence))

    def upper(v: np.ndarray) -> float:
        return _smallest_rejected(
            lambda m: dkelly_log_capital(v, np.array([m]))[0, -1] >= level, 0.0, 1 - 1e-9
        )

    return 1 - upper(1 - x), upper(x)


# ---------------------------------------------------------------------------- CVaR


def cvar_grid(limit: float, cost_bound: float) -> np.ndarray:
    """The points g of (5), fixed by the limit before any data."""
    fractions = np.concatenate((np.arange(8) / 8, 1 - 0.5 ** np.array([4, 5])))
    return np.unique(np.clip(fractions * limit, 0.0, cost_bound * (1 - 1e-9)))


def cvar_pass_log_e(costs: np.ndarray, alpha: float, c: float, limit: float, bound: float):
    """log of the grid-averaged e-process of (5) against CVaR_α >= c, per prefix."""
    grid = cvar_grid(limit, bound)
    excess = np.maximum(costs[None, :] - grid[:, None], 0.0) / (bound - grid)[:, None]
    targets = alpha * (c - grid) / (bound - grid)
    return _log_mean_exp(dkelly_log_capital(excess, targets), axis=0)


def cvar_fail_log_e(costs: np.ndarray, alpha: float, c: float, bound: float) -> np.ndarray:
    """log of the weakest of the K e-processes of (6) against CVaR_α <= c, per prefix."""
    edges = np.linspace(0.0, c, CVAR_PIECES + 1)
    low, high = edges[:-1], np.minimum(edges[1:], bound * (1 - 1e-9))
    excess = np.maximum(costs[None, :] - high[:, None], 0.0) / (bound - high)[:, None]
    targets = alpha * (c - low) / (bound - high)
    return np.min(dkelly_log_capital(1 - excess, 1 - np.minimum(targets, 1.0)), axis=0)


def cvar_codes(
    costs: object, alpha: float, limit: float, bound: float, confidence: float
) -> np.ndarray:
    """Per prefix: +1 CVaR_α < limit, -1 > limit, 0 open."""
    x = as_values(costs, "costs")
    level = math.log(2 / error_rate(confidence))
    below = cvar_pass_log_e(x, alpha, limit, limit, bound) >= level
    above = cvar_fail_log_e(x, alpha, limit, bound) >= level
    return np.where(below, 1, np.where(above, -1, 0))


def cvar_interval(
    costs: object, alpha: float, limit: float, bound: float, confidence: float
) -> tuple[float, float]:
    """The CS after all of `costs`: the largest c the FAIL side rejects (CVaR <= c) and the
    smallest c the PASS side rejects (CVaR >= c); on the limit's side of the verdict."""
    x = as_values(costs, "costs")
    if x.size == 0:
        return 0.0, float(bound)
    level = math.log(2 / error_rate(confidence))
    upper = _smallest_rejected(
        lambda c: cvar_pass_log_e(x, alpha, c, limit, bound)[-1] >= level, 0.0, float(bound)
    )

    def fails(c: float) -> bool:
        return bool(cvar_fail_log_e(x, alpha, c, bound)[-1] >= level)

    if fails(limit):
        lower = _largest_rejected(fails, limit, float(bound) * (1 - 1e-9))
    else:
        lower = _largest_rejected(fails, 0.0, limit) if fails(0.0) else 0.0
    return lower, upper


# ---------------------------------------------------------------------------- regression


def half_mixture_log_e(wins: object, losses: object) -> tuple[np.ndarray, np.ndarray]:
    """log R^> and log R^< of (7) for counts for (wins) and against (losses) the candidate's
    being worse."""
    a = REGRESSION_MIXTURE
    b, c = np.asarray(wins, float), np.asarray(losses, float)
    common = (b + c + 1) * math.log(2) + special.betaln(a + b, a + c) - special.betaln(a, a)
    with np.errstate(divide="ignore"):
        worse = common + np.log(special.betaincc(a + b, a + c, 0.5))
        better = common + np.log(special.betainc(a + b, a + c, 0.5))
    return worse, better


def regression_codes(
    worse: object, better: object, confidence: float, log_level: float | None = None
) -> np.ndarray:
    """Per prefix: -1 significantly worse (FAIL), +1 significantly better (PASS), 0 open;
    `worse`/`better` flag the pairs where the candidate lost / won; `log_level` as in
    `proportion_codes`."""
    up = np.cumsum(as_values(worse, "worse") > 0)
    down = np.cumsum(as_values(better, "better") > 0)
    log_worse, log_better = half_mixture_log_e(up, down)
    level = math.log(1 / error_rate(confidence)) if log_level is None else log_level
    return np.where(log_worse >= level, -1, np.where(log_better >= level, 1, 0))


def regression_max_log_e(worse: object, better: object) -> float:
    """max_s log R_s^> over the prefixes given (0 with none): 1/exp of it is the anytime-valid
    p-value."""
    up = np.cumsum(as_values(worse, "worse") > 0)
    down = np.cumsum(as_values(better, "better") > 0)
    if up.size == 0:
        return 0.0
    return float(max(0.0, np.max(half_mixture_log_e(up, down)[0])))
