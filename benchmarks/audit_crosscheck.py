"""Cross-check of the anytime audit maths against an independent implementation: `confseq`
(Howard, Waudby-Smith, Ramdas; github.com/gostevehoward/confseq), which is not a dependency.

    .venv/bin/pip install --no-build-isolation confseq   # needs pybind11>=2.10,
    .venv/bin/python benchmarks/audit_crosscheck.py      # scikit-build, cmake, boost headers

(confseq 0.0.11 ships only a source distribution; its pinned build-time pybind11 2.6 does
not compile on Python 3.11, hence the build without isolation.)

1. The beta-binomial mixture (2) of `testbed.audit.anytime` against confseq's
   `beta_binomial_log_mixture` (Howard et al. 2021's parameterisation: s = S - p·t,
   v = p(1-p)·t, g = p, h = 1 - p, mixing Beta(r/h, r/g) with r = ρ - gh and
   ρ = v_opt/(2 ln(1/α_opt) + ln(1 + 2 ln(1/α_opt)))); v_opt is set so that r = c·p0(1 - p0),
   i.e. confseq's mixing law is ours, and the two log-martingales are compared on a grid of
   counts.
2. The dKelly capital (4) against the mean of confseq's `betting_mart` with the same
   constant bets (its negative capital process Π(1 - λ(x - m)), theta = 0), on random data.

Writes benchmarks/results/audit_crosscheck.json: the largest absolute differences.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from testbed.audit import anytime

ALPHA_OPT = 0.05


def beta_binomial(boundaries) -> dict[str, float]:
    worst = 0.0
    points = 0
    for p0 in (0.01, 0.05, 0.1, 0.3):
        gh = p0 * (1 - p0)
        rho = anytime.BETA_MIXTURE_STRENGTH * gh + gh
        level = 2 * math.log(1 / ALPHA_OPT) + math.log(1 + 2 * math.log(1 / ALPHA_OPT))
        v_opt = rho * level
        for t in (1, 10, 30, 100, 400, 1000):
            for successes in sorted({0, 1, t // 20, t // 10, t // 4, t}):
                ours = float(anytime.log_beta_binomial_mixture(successes, t - successes, p0, p0))
                theirs = float(
                    boundaries.beta_binomial_log_mixture(
                        successes - p0 * t, gh * t, v_opt, p0, 1 - p0, ALPHA_OPT, False
                    )
                )
                worst = max(worst, abs(ours - theirs))
                points += 1
    return {"points": points, "max_abs_diff_log": worst}


def dkelly(betting) -> dict[str, float]:
    rng = np.random.default_rng(0)
    worst = 0.0
    for m in (0.02, 0.1, 0.5):
        x = rng.beta(0.5, 8, 500)
        ours = np.exp(anytime.dkelly_log_capital(x, np.array([m]))[0])
        capitals = [
            betting.betting_mart(
                x,
                m,
                lambdas_fn_negative=lambda v, mean, f=f: np.full(len(v), f / (1 - mean)),
                theta=0.0,
                trunc_scale=1.0,
            )
            for f in anytime.KELLY_FRACTIONS
        ]
        theirs = np.mean(capitals, axis=0)
        worst = max(worst, float(np.max(np.abs(np.log(ours) - np.log(theirs)))))
    return {"max_abs_diff_log": worst}


def main() -> None:
    try:
        from confseq import betting, boundaries
    except ImportError:
        sys.exit("confseq is not installed: see this script's docstring")
    result = {"beta_binomial": beta_binomial(boundaries), "dkelly": dkelly(betting)}
    out = Path(__file__).parent / "results" / "audit_crosscheck.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
