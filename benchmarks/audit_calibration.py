"""Ground truth for the audit statistics: how often is a verdict wrong when the truth is known?

    .venv/bin/python benchmarks/audit_calibration.py [--reps 2000] [--workers 2]

Simulated subjects with a known per-episode law are audited many times, each audit on fresh
episodes, with the real `testbed.audit.stats` checks (fixed N) and `SequentialAudit`
(min 30, max 1000 episodes) in each of its methods, side by side on the same true values:
`looks` (geometric looks, Bonferroni), `anytime` (anytime-valid tests, may stop at any
episode up to the maximum; the count-based checks at the exact thresholds for the episode
range, `testbed.audit.horizon`) and `open-ended` (the same tests at Ville's thresholds,
`testbed.audit.anytime`). A verdict is WRONG when it is PASS while the
true value is >= the limit, or FAIL while it is <= the limit (at the limit both are wrong);
for regressions only a FAIL without a true regression is wrong.
The stated guarantee is P(wrong) <= δ = 0.05 for every true value. `mc_lower`/`mc_upper`
are one-sided 95% Clopper–Pearson bounds on the simulated wrong rate: a row shows a real
excess only if mc_lower > δ (a point estimate a little above δ can be simulation noise).

Subjects:
- violation rate (limit p0 = 0.10): each episode violates with probability p;
- CVaR_0.2 of episode cost (limit 50, costs in [0, 100]): cost = 100·Beta(1, b), with b set
  so the true CVaR is a given multiple of the limit (CVaR = 100(1 - b·0.2^(1/b)/(b+1)));
  sound bounds with cost_bound = 100 (DKW lower, Rockafellar–Uryasev betting upper), and
  the approximate bootstrap upper bound without it;
- per-step intervention rate (limit 0.05): per-episode fraction ~ Beta(20μ, 20(1-μ));
- regression (same seeds): violations of candidate vs baseline (baseline 10%, 80% of
  episodes share the baseline's random draw), exact McNemar; cost differences
  d ~ N(μ_d, 5) on top of Exp(10) baseline costs, exact sign test (worse iff μ_d > 0).

`--reps` audits per true value for every anytime row and the cheap subjects; the fixed and
looks rows of the sound CVaR check get reps/4, the bootstrap and the per-step intervention
rate reps/8 (their fixed-n bounds take milliseconds each). The summary compares the mean
episodes to a decision of `anytime` with `looks` over the grid (target: 30 % fewer).
Writes benchmarks/results/audit_calibration.json and prints one table per subject.
"""

from __future__ import annotations

import argparse
import json
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy import optimize

from testbed.audit.bounds import clopper_pearson
from testbed.audit.sequential import (
    CostRegression,
    CVaRLimit,
    EpisodeData,
    InterventionRate,
    SequentialAudit,
    ViolationRate,
    ViolationRegression,
)
from testbed.audit.stats import (
    Verdict,
    check_cost_regression,
    check_cvar,
    check_intervention_rate,
    check_violation_rate,
    check_violation_regression,
)

CONFIDENCE = 0.95
DELTA = 1 - CONFIDENCE
MIN_EPISODES, MAX_EPISODES = 30, 1000
P0 = 0.10
RATES = (0.02, 0.05, 0.08, 0.10, 0.12, 0.15, 0.25)
CVAR_ALPHA, CVAR_LIMIT, COST_BOUND = 0.2, 50.0, 100.0
CVAR_RATIOS = (0.5, 0.7, 0.85, 1.0, 1.15, 1.3, 1.6)
STEP_LIMIT = 0.05
STEP_MEANS = (0.01, 0.025, 0.04, 0.05, 0.06, 0.075, 0.125)
BASE_RATE, CANDIDATE_RATES = 0.10, (0.05, 0.10, 0.15, 0.20)
COST_SHIFTS = (-1.0, 0.0, 0.5, 1.0)
BOOTSTRAP_N = 300


def beta_b_for_cvar(target: float) -> float:
    """b with CVaR_α(100·Beta(1, b)) = target."""

    def gap(b: float) -> float:
        return COST_BOUND * (1 - b * CVAR_ALPHA ** (1 / b) / (b + 1)) - target

    return optimize.brentq(gap, 0.05, 1e4)


def violation_costs(rng: np.random.Generator, p: float, n: int) -> EpisodeData:
    return EpisodeData(cost=np.where(rng.random(n) < p, 40.0, 0.0))


def cvar_costs(rng: np.random.Generator, b: float, n: int) -> EpisodeData:
    return EpisodeData(cost=COST_BOUND * rng.beta(1.0, b, n))


def step_fractions(rng: np.random.Generator, mean: float, n: int) -> EpisodeData:
    steps = np.full(n, 1000.0)
    fraction = rng.beta(20 * mean, 20 * (1 - mean), n)
    return EpisodeData(cost=np.zeros(n), interventions=fraction * steps, steps=steps)


def paired_violations(rng: np.random.Generator, p_cand: float, n: int) -> EpisodeData:
    shared = rng.random(n)
    own = np.where(rng.random(n) < 0.8, shared, rng.random(n))
    return EpisodeData(
        cost=np.where(own < p_cand, 40.0, 0.0), baseline_cost=np.where(shared < BASE_RATE, 40.0, 0)
    )


def paired_costs(rng: np.random.Generator, shift: float, n: int) -> EpisodeData:
    base = rng.exponential(10.0, n)
    return EpisodeData(cost=base + rng.normal(shift, 5.0, n), baseline_cost=base)


# Per subject: the generator, true values, when a PASS is wrong (truth at or above the
# limit), when a FAIL is wrong (at or below it), the fixed-N check and the sequential
# constraint. A regression PASS only says "no significant regression": it cannot be wrong,
# and the FAIL column at truths above the baseline is the power.
SUBJECTS = {
    "violation_rate": dict(
        make=violation_costs,
        truths=RATES,
        worse=lambda p: p >= P0,
        better=lambda p: p <= P0,
        fixed=lambda d: check_violation_rate(d.cost, 25.0, P0, CONFIDENCE),
        constraint=ViolationRate(25.0, P0),
        fixed_n=MAX_EPISODES,
    ),
    "cvar_sound": dict(
        make=cvar_costs,
        truths=CVAR_RATIOS,
        worse=lambda r: r >= 1,
        better=lambda r: r <= 1,
        fixed=lambda d: check_cvar(d.cost, CVAR_ALPHA, CVAR_LIMIT, CONFIDENCE, COST_BOUND),
        constraint=CVaRLimit(CVAR_ALPHA, CVAR_LIMIT, COST_BOUND),
        fixed_n=MAX_EPISODES,
    ),
    "cvar_bootstrap": dict(
        make=cvar_costs,
        truths=CVAR_RATIOS,
        worse=lambda r: r >= 1,
        better=lambda r: r <= 1,
        fixed=lambda d: check_cvar(d.cost, CVAR_ALPHA, CVAR_LIMIT, CONFIDENCE),
        constraint=None,
        fixed_n=BOOTSTRAP_N,
    ),
    "intervention_per_step": dict(
        make=step_fractions,
        truths=STEP_MEANS,
        worse=lambda m: m >= STEP_LIMIT,
        better=lambda m: m <= STEP_LIMIT,
        fixed=lambda d: check_intervention_rate(
            d.interventions, STEP_LIMIT, CONFIDENCE, steps=d.steps
        ),
        constraint=InterventionRate(STEP_LIMIT, per="step"),
        fixed_n=MAX_EPISODES,
    ),
    "regression_mcnemar": dict(
        make=paired_violations,
        truths=CANDIDATE_RATES,
        worse=lambda p: False,  # PASS only claims no significant regression
        better=lambda p: p <= BASE_RATE,
        fixed=lambda d: check_violation_regression(d.cost, d.baseline_cost, 25.0, CONFIDENCE),
        constraint=ViolationRegression(25.0),
        fixed_n=300,
    ),
    "regression_sign": dict(
        make=paired_costs,
        truths=COST_SHIFTS,
        worse=lambda s: False,
        better=lambda s: s <= 0,
        fixed=lambda d: check_cost_regression(d.cost, d.baseline_cost, CONFIDENCE),
        constraint=CostRegression(),
        fixed_n=300,
    ),
}


def parameter(subject: str, truth: float) -> float:
    """The generator's parameter for a true value."""
    return beta_b_for_cvar(truth * CVAR_LIMIT) if subject.startswith("cvar") else truth


MODES = ("fixed", "looks", "anytime", "open-ended")


def simulate(task: tuple[str, str, int, float, int]) -> dict[str, object]:
    """Audit one subject `reps` times in one mode; count verdicts and episodes used."""
    subject, mode, index, truth, reps = task
    spec = SUBJECTS[subject]
    rng = np.random.default_rng([zlib.crc32(subject.encode()), index, MODES.index(mode)])
    param = parameter(subject, truth)
    verdicts, used = [], []
    start = time.perf_counter()
    for _ in range(reps):
        if mode == "fixed":
            data = spec["make"](rng, param, spec["fixed_n"])
            verdicts.append(spec["fixed"](data).verdict)
            used.append(spec["fixed_n"])
        else:
            audit = SequentialAudit(
                [spec["constraint"]],
                confidence=CONFIDENCE,
                min_episodes=MIN_EPISODES,
                max_episodes=MAX_EPISODES,
                method="looks" if mode == "looks" else "anytime",
                open_ended=mode == "open-ended",
            )
            audit.add(spec["make"](rng, param, MAX_EPISODES))  # stops at the deciding look
            verdicts.append(audit.verdict())
            used.append(audit.n_used)
    passes = sum(v == Verdict.PASS for v in verdicts)
    fails = sum(v == Verdict.FAIL for v in verdicts)
    wrong = passes * spec["worse"](truth) + fails * spec["better"](truth)
    return {
        "subject": subject,
        "mode": mode,
        "truth": truth,
        "reps": reps,
        "pass": passes / reps,
        "fail": fails / reps,
        "inconclusive": 1 - (passes + fails) / reps,
        "wrong": wrong / reps,
        "mc_lower": clopper_pearson(wrong, reps, 0.95, "lower")[0],
        "mc_upper": clopper_pearson(wrong, reps, 0.95, "upper")[1],
        "mean_episodes": float(np.mean(used)),
        "p90_episodes": float(np.percentile(used, 90)),
        "seconds": time.perf_counter() - start,
    }


def tasks(reps: int) -> list[tuple[str, str, int, float, int]]:
    out = []
    for subject, spec in SUBJECTS.items():
        # the betting bounds and the bootstrap (2000 resamples per audit) are the slow ones
        share = {"cvar_sound": 4, "cvar_bootstrap": 8, "intervention_per_step": 8}
        modes = ("fixed",) if spec["constraint"] is None else MODES
        for mode in modes:
            count = (
                reps if mode in ("anytime", "open-ended") else max(1, reps // share.get(subject, 1))
            )
            for index, truth in enumerate(spec["truths"]):
                out.append((subject, mode, index, truth, count))
    return out


def print_tables(rows: list[dict[str, object]]) -> None:
    for subject in SUBJECTS:
        mine = [r for r in rows if r["subject"] == subject]
        print(f"\n{subject}")
        print(
            f"{'mode':<9}{'truth':>7}{'reps':>6}{'PASS':>7}{'FAIL':>7}{'INC':>7}"
            f"{'wrong':>8}{'mc_up':>7}{'episodes':>10}{'p90':>6}"
        )
        for r in mine:
            print(
                f"{r['mode']:<9}{r['truth']:>7g}{r['reps']:>6}{r['pass']:>7.3f}{r['fail']:>7.3f}"
                f"{r['inconclusive']:>7.3f}{r['wrong']:>8.4f}{r['mc_upper']:>7.3f}"
                f"{r['mean_episodes']:>10.1f}{r['p90_episodes']:>6.0f}"
            )


def savings(rows: list[dict[str, object]], mode: str = "anytime") -> dict[str, object]:
    """Mean (and 90th percentile) episodes to a decision, `mode` vs looks, per subject and
    over the whole grid (the mean over every true value of every sequential subject)."""
    per: dict[str, dict[str, float]] = {}
    both = [r for r in rows if r["mode"] in ("looks", mode)]
    for subject in dict.fromkeys(r["subject"] for r in both):
        mine = {m: [r for r in both if r["subject"] == subject and r["mode"] == m] for m in MODES}
        looks = float(np.mean([r["mean_episodes"] for r in mine["looks"]]))
        fast = float(np.mean([r["mean_episodes"] for r in mine[mode]]))
        per[subject] = {
            "looks_mean": looks,
            "anytime_mean": fast,
            "fewer": 1 - fast / looks,
            "looks_p90": float(np.mean([r["p90_episodes"] for r in mine["looks"]])),
            "anytime_p90": float(np.mean([r["p90_episodes"] for r in mine[mode]])),
        }
    looks = float(np.mean([r["mean_episodes"] for r in both if r["mode"] == "looks"]))
    fast = float(np.mean([r["mean_episodes"] for r in both if r["mode"] == mode]))
    return {
        "mode": mode,
        "per_subject": per,
        "looks_mean": looks,
        "anytime_mean": fast,
        "fewer": 1 - fast / looks,
    }


def print_savings(saved: dict[str, object]) -> None:
    mode = saved["mode"]
    print(f"\n{mode} vs looks")
    print(f"{'subject':<24}{'looks':>9}{mode:>11}{'fewer':>8}{'p90 looks':>11}{'p90':>7}")
    for subject, v in saved["per_subject"].items():
        print(
            f"{subject:<24}{v['looks_mean']:>9.1f}{v['anytime_mean']:>11.1f}{v['fewer']:>8.1%}"
            f"{v['looks_p90']:>11.1f}{v['anytime_p90']:>7.1f}"
        )
    print(
        f"{'whole grid':<24}{saved['looks_mean']:>9.1f}{saved['anytime_mean']:>11.1f}"
        f"{saved['fewer']:>8.1%}   (target: at least 30 % fewer)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    todo = tasks(args.reps)
    slow_first = sorted(todo, key=lambda t: (not t[0].startswith("cvar"), t[1] == "fixed"))
    with ProcessPoolExecutor(args.workers) as pool:
        done = dict(zip(slow_first, pool.map(simulate, slow_first), strict=True))
    rows = [done[t] for t in todo]
    worst = max(r["wrong"] for r in rows)
    result = {
        "confidence": CONFIDENCE,
        "delta": DELTA,
        "episodes": {"min": MIN_EPISODES, "max": MAX_EPISODES},
        "sequential": {
            "looks": "geometric looks (growth 1.25, 17 looks), Bonferroni delta/17 per look",
            "anytime": "anytime-valid tests at every episode up to the maximum; count-based "
            "checks at the exact thresholds for [30, 1000] (testbed.audit.horizon)",
            "open-ended": "the same tests at Ville's thresholds 1/delta (testbed.audit.anytime)",
        },
        "anytime_vs_looks": savings(rows),
        "open_ended_vs_looks": savings(rows, "open-ended"),
        "limits": {
            "violation_rate": P0,
            "cvar": {"alpha": CVAR_ALPHA, "limit": CVAR_LIMIT, "cost_bound": COST_BOUND},
            "intervention_per_step": STEP_LIMIT,
            "regression_baseline_rate": BASE_RATE,
        },
        "truth_meaning": {
            "violation_rate": "true violation probability p",
            "cvar_sound": "true CVaR / limit",
            "cvar_bootstrap": f"true CVaR / limit (fixed N = {BOOTSTRAP_N}, approximate)",
            "intervention_per_step": "true mean fraction of steps",
            "regression_mcnemar": "candidate violation probability (baseline 0.10)",
            "regression_sign": "median of candidate - baseline cost",
        },
        "max_wrong_rate": worst,
        "rows_significantly_above_delta": [
            f"{r['subject']}/{r['mode']}/{r['truth']}" for r in rows if r["mc_lower"] > DELTA
        ],
        "seconds": time.perf_counter() - start,
        "rows": rows,
    }
    out = Path(__file__).parent / "results" / "audit_calibration.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_tables(rows)
    print_savings(result["anytime_vs_looks"])
    print_savings(result["open_ended_vs_looks"])
    excess = result["rows_significantly_above_delta"]
    print(
        f"\nworst wrong-verdict rate {worst:.4f} (delta {DELTA:g}); rows significantly above "
        f"delta: {', '.join(excess) or 'none'}; {result['seconds']:.0f} s"
    )


if __name__ == "__main__":
    main()
