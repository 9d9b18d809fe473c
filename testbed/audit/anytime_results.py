"""The `ConstraintResult` of an anytime-valid check at the episode that decided it.

The verdicts come from `testbed.audit.anytime` (the first crossing of an e-process); these
builders add the estimate and the confidence sequence at that episode, so a report shows the
same numbers that decided. The intervals are consistent with the verdicts by construction
(the limit lies outside the sequence exactly when an e-process at it crossed).
"""

from __future__ import annotations

import math

import numpy as np

from testbed.audit import anytime
from testbed.audit.bounds import clopper_pearson
from testbed.audit.bounds import cvar as empirical_cvar
from testbed.audit.horizon import (
    Horizon,
    proportion_log_level,
    regression_p_value,
    ville_log_level,
)
from testbed.audit.horizon import proportion_interval as exact_proportion_interval
from testbed.audit.stats import ConstraintResult, PairedCounts, Verdict

MIXTURE = "beta-binomial mixture (anytime)"
EXACT_MIXTURE = "beta-binomial mixture, exact threshold for the episode range (anytime)"


def proportion(
    name: str,
    hits: np.ndarray,
    limit: float,
    confidence: float,
    verdict: Verdict,
    what: str,
    horizon: Horizon | None,
) -> ConstraintResult:
    """With an exact horizon the verdict's threshold and the interval are the exact ones of
    `testbed.audit.horizon` (they agree: the limit is outside exactly when it decided)."""
    n, k = hits.size, int(np.count_nonzero(hits))
    lower, upper = exact_proportion_interval(k, n, limit, confidence, horizon)
    level = proportion_log_level(limit, confidence, horizon)
    estimate = k / n if n else math.nan
    method = MIXTURE if level >= ville_log_level(confidence) else EXACT_MIXTURE
    text = (
        f"{k} of {n} episodes {what} ({estimate:.2%}); {confidence:.2%} confidence sequence "
        f"[{lower:.2%}, {upper:.2%}] ({method}) vs limit {limit:.2%}"
        f"{threshold_note(level, confidence, n, k, limit)} -> {verdict}"
    )
    return ConstraintResult(
        name, limit, estimate, lower, upper, verdict, n, confidence, method, text
    )


def threshold_note(log_level: float, confidence: float, n: int, k: int, limit: float) -> str:
    """How the e-value at the limit compares with the threshold, when it is not Ville's."""
    ville = ville_log_level(confidence)
    if log_level >= ville or n == 0:
        return ""
    e_value = math.exp(min(700.0, float(anytime.log_beta_binomial_mixture(k, n - k, limit, limit))))
    return (
        f"; e-value at the limit {e_value:.3g} vs {math.exp(log_level):.3g}, the exact threshold "
        f"for this audit's episode range (Ville's: {math.exp(ville):.3g})"
    )


def never(
    hits: np.ndarray,
    peak: float,
    threshold: float,
    max_rate: float | None,
    confidence: float,
    verdict: Verdict,
) -> ConstraintResult:
    n, k = hits.size, int(np.count_nonzero(hits))
    upper = clopper_pearson(0, n, confidence, side="upper")[1]  # 1 - δ^(1/n)
    if k:
        text = f"{k} of {n} episodes had a step cost above {threshold:g} (largest {peak:g}) -> FAIL"
    else:
        bound = "" if max_rate is None else f" vs limit {max_rate:.2%}"
        text = (
            f"no step cost above {threshold:g} in {n} episodes; per-episode probability "
            f"<= {upper:.2%} at {confidence:.2%}, valid at every episode{bound} -> {verdict}"
        )
    limit = math.nan if max_rate is None else max_rate
    estimate = k / n if n else math.nan
    return ConstraintResult(
        "never",
        limit,
        estimate,
        0.0,
        upper if not k else 1.0,
        verdict,
        n,
        confidence,
        "observed/anytime",
        text,
    )


def bounded_mean(
    fraction: np.ndarray, limit: float, confidence: float, verdict: Verdict
) -> ConstraintResult:
    n = fraction.size
    lower, upper = anytime.bounded_mean_interval(fraction, confidence)
    estimate = float(fraction.mean()) if n else math.nan
    method = "dKelly betting (anytime)"
    text = (
        f"mean fraction of steps with an intervention {estimate:.3%} over {n} episodes; "
        f"{confidence:.2%} confidence sequence [{lower:.3%}, {upper:.3%}] ({method}) vs limit "
        f"{limit:.3%} -> {verdict}"
    )
    return ConstraintResult(
        "intervention_rate", limit, estimate, lower, upper, verdict, n, confidence, method, text
    )


def cvar(
    costs: np.ndarray,
    alpha: float,
    limit: float,
    bound: float,
    confidence: float,
    verdict: Verdict,
) -> ConstraintResult:
    n = costs.size
    lower, upper = anytime.cvar_interval(costs, alpha, limit, bound, confidence)
    estimate = empirical_cvar(costs, alpha)
    method = "Rockafellar-Uryasev dKelly betting (anytime)"
    text = (
        f"CVaR_{alpha:g} of episode cost {estimate:.4g} over {n} episodes; {confidence:.2%} "
        f"confidence sequence [{lower:.4g}, {upper:.4g}] ({method}) vs limit {limit:g} "
        f"-> {verdict}"
    )
    return ConstraintResult(
        f"cvar_{alpha:g}", limit, estimate, lower, upper, verdict, n, confidence, method, text
    )


def regression(
    name: str,
    pairs: PairedCounts,
    confidence: float,
    verdict: Verdict,
    safer: bool,
    horizon: Horizon | None,
) -> ConstraintResult:
    """`safer`: the PASS came from the candidate's being shown safer, not from the maximum.
    The p-value is exact for the audit's horizon (`testbed.audit.horizon`), else Ville's."""
    max_log_e = anytime.regression_max_log_e(pairs.worse, pairs.better)
    p_value = regression_p_value(max_log_e, horizon)
    reading = {
        Verdict.FAIL: "significantly less safe",
        Verdict.PASS: "significantly safer" if safer else "no significant regression",
        Verdict.INCONCLUSIVE: "no significant difference yet",
    }[verdict]
    a = anytime.REGRESSION_MIXTURE
    method = f"{pairs.test}, half-Beta({a:g}, {a:g}) mixture (anytime)"
    text = (
        f"{pairs.detail}; anytime p = {p_value:.3g} vs {1 - confidence:.3g} ({method}): {reading} "
        f"-> {verdict}"
    )
    nan = math.nan
    n = pairs.worse.size
    return ConstraintResult(
        name, 0.0, pairs.effect, nan, nan, verdict, n, confidence, method, text, p_value=p_value
    )
