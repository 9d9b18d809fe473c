"""Anytime-valid audit tests: the maths against direct integration, validity under optional
stopping (where peeking at a fixed-sample test is not valid), prefix-only decisions, and the
stage's `sequential:` option end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from nav_audit import nav_audit
from scipy import integrate, stats

from testbed import load_scenario, run
from testbed.audit import anytime
from testbed.audit.bounds import clopper_pearson
from testbed.audit.bounds import cvar as empirical_cvar
from testbed.audit.sequential import (
    CostRegression,
    CVaRLimit,
    EpisodeData,
    InterventionRate,
    NeverAbove,
    SequentialAudit,
    ViolationRate,
    ViolationRegression,
)
from testbed.audit.stats import Verdict

DELTA = 0.05


def test_beta_binomial_mixture_is_the_integral_it_claims():
    p0, s, f, p = 0.1, 7, 53, 0.2
    a, b = anytime._prior(p0)
    integral, _ = integrate.quad(
        lambda q: q**s * (1 - q) ** f * stats.beta.pdf(q, a, b), 0, 1, epsabs=1e-300
    )
    expected = math.log(integral) - (s * math.log(p) + f * math.log(1 - p))
    assert anytime.log_beta_binomial_mixture(s, f, p, p0) == pytest.approx(expected, rel=1e-6)


def test_half_mixture_is_the_integral_it_claims():
    wins, losses, a = 14, 5, anytime.REGRESSION_MIXTURE

    def density(q: float) -> float:
        return (2 * q) ** wins * (2 * (1 - q)) ** losses * 2 * stats.beta.pdf(q, a, a)

    worse, _ = integrate.quad(density, 0.5, 1)
    better, _ = integrate.quad(density, 0, 0.5)
    got = anytime.half_mixture_log_e(wins, losses)
    assert np.exp(got[0]) == pytest.approx(worse, rel=1e-8)
    assert np.exp(got[1]) == pytest.approx(better, rel=1e-8)


def test_intervals_agree_with_the_verdicts():
    rng = np.random.default_rng(0)
    for p in (0.0, 0.03, 0.1, 0.3):
        hits = rng.random(400) < p
        codes = anytime.proportion_codes(hits, 0.1, 0.95)
        for t in (30, 100, 400):
            lower, upper = anytime.proportion_interval(int(hits[:t].sum()), t, 0.1, 0.95)
            assert lower <= hits[:t].mean() <= upper
            assert (codes[t - 1] == 1) == (upper < 0.1) and (codes[t - 1] == -1) == (lower > 0.1)
    costs = 100 * rng.beta(1, 3, 300)  # CVaR_0.2 about 70
    for limit in (40.0, 69.0, 95.0):
        code = anytime.cvar_codes(costs, 0.2, limit, 100.0, 0.95)[-1]
        lower, upper = anytime.cvar_interval(costs, 0.2, limit, 100.0, 0.95)
        assert lower <= empirical_cvar(costs, 0.2) <= upper
        assert (code == 1) == (upper < limit) and (code == -1) == (lower >= limit)
    x = rng.beta(0.5, 19.5, 300)
    lower, upper = anytime.bounded_mean_interval(x, 0.95)
    assert lower < x.mean() < upper
    assert (anytime.bounded_mean_codes(x, upper + 1e-6, 0.95)[-1] == 1) and (
        anytime.bounded_mean_codes(x, upper - 1e-3, 0.95)[-1] == 0
    )


def test_decisions_use_only_the_prefix():
    rng = np.random.default_rng(1)
    costs = 100 * rng.beta(1, 6, 500)
    whole = anytime.cvar_codes(costs, 0.2, 50, 100, 0.95)
    for t in (30, 77, 250):
        assert np.array_equal(anytime.cvar_codes(costs[:t], 0.2, 50, 100, 0.95), whole[:t])
    worse, better = rng.random(500) < 0.2, rng.random(500) < 0.1
    whole = anytime.regression_codes(worse, better, 0.95)
    assert np.array_equal(anytime.regression_codes(worse[:99], better[:99], 0.95), whole[:99])


def _wrong_rate(constraint, make, reps: int, rng: np.random.Generator, wrong: set[Verdict]):
    count = 0
    for _ in range(reps):
        audit = SequentialAudit([constraint], min_episodes=30, max_episodes=1000)
        audit.add(make(rng))
        count += audit.verdict() in wrong
    return count


def test_anytime_keeps_its_error_where_peeking_at_a_fixed_test_does_not():
    """At the limit every verdict is wrong. Checking the exact Clopper–Pearson interval after
    every episode and stopping at the first decision is wrong far more often than δ; the
    anytime test, stopped the same way, stays within δ (300 audits, 1000 episodes each)."""
    rng = np.random.default_rng(2)
    reps, p0 = 300, 0.1
    streams = rng.random((reps, 1000)) < p0
    peeking = 0
    for hits in streams:
        k = np.cumsum(hits)
        for n in range(30, 1001, 5):
            lower, upper = clopper_pearson(int(k[n - 1]), n, 0.95)
            if upper < p0 or lower > p0:
                peeking += 1
                break
    anytime_wrong = sum(anytime.proportion_codes(hits, p0, 0.95)[29:].any() for hits in streams)
    bound = stats.binom.ppf(0.999, reps, DELTA)  # δ plus Monte-Carlo slack
    assert peeking > 2 * bound
    assert anytime_wrong <= bound


@pytest.mark.parametrize(
    ("constraint", "make", "wrong"),
    [
        (  # mean exactly at the limit: both verdicts wrong
            InterventionRate(0.05, per="step"),
            lambda rng: EpisodeData(
                cost=np.zeros(1000),
                interventions=rng.beta(1, 19, 1000) * 100,
                steps=np.full(1000, 100.0),
            ),
            {Verdict.PASS, Verdict.FAIL},
        ),
        (  # same law for candidate and baseline: a FAIL is wrong
            CostRegression(),
            lambda rng: EpisodeData(
                cost=rng.exponential(1, 1000), baseline_cost=rng.exponential(1, 1000)
            ),
            {Verdict.FAIL},
        ),
        (  # CVaR_0.5 of Uniform(0, 100) is 75: at the limit
            CVaRLimit(0.5, 75.0, 100.0),
            lambda rng: EpisodeData(cost=rng.uniform(0, 100, 1000)),
            {Verdict.PASS, Verdict.FAIL},
        ),
    ],
    ids=["mean", "sign-test", "cvar"],
)
def test_anytime_error_at_the_limit_stays_below_delta(constraint, make, wrong):
    rng = np.random.default_rng(3)
    reps = 150
    assert _wrong_rate(constraint, make, reps, rng, wrong) <= stats.binom.ppf(0.999, reps, DELTA)


def test_regression_can_pass_early_when_the_candidate_is_safer():
    rng = np.random.default_rng(4)
    base = np.where(rng.random(1000) < 0.4, 40.0, 0.0)
    safer = np.where(rng.random(1000) < 0.7, 0.0, base)
    audit = SequentialAudit([ViolationRegression(25)], max_episodes=1000)
    audit.add(EpisodeData(cost=safer, baseline_cost=base))
    result = audit.results()[0]
    assert result.verdict == Verdict.PASS and audit.n_used < 200
    assert "significantly safer" in result.explanation and result.p_value > 0.5
    assert result.fixed_sample is not None and result.fixed_sample["verdict"] == "PASS"


def test_results_state_the_fixed_sample_answer():
    data = EpisodeData(cost=np.zeros(1000), max_step_cost=np.zeros(1000))
    audit = SequentialAudit([ViolationRate(2, 0.1), NeverAbove(0.5, max_rate=0.1)])
    audit.add(data)
    rate, never = audit.results()
    # M_n = 9 / (9 + n) / 0.9^n first reaches the exact threshold for [30, 1000] (14.05) at
    # n = 42 (13.5 at 41); Ville's 20 at 46; looks: 75
    assert (rate.verdict, rate.n) == (Verdict.PASS, 42)
    assert "exact threshold" in rate.explanation and rate.upper < 0.1
    assert rate.fixed_sample == {
        "lower": 0.0,
        "upper": pytest.approx(clopper_pearson(0, 42, 0.95)[1]),
        "verdict": "PASS",
        "n": 42,
        "method": "clopper-pearson",
        "p_value": None,
    }
    assert never.verdict == Verdict.PASS and never.n == 42  # stated where the audit stopped
    open_ended = SequentialAudit([ViolationRate(2, 0.1)], open_ended=True)
    open_ended.add(data)
    assert open_ended.n_used == 46 and "exact" not in open_ended.results()[0].explanation
    alone = SequentialAudit([NeverAbove(0.5, max_rate=0.1)])
    alone.add(data)
    assert alone.n_used == 30  # ln 20 / -ln 0.9 = 28.4: the fixed-sample bound, at min
    assert "confidence sequence" in rate.explanation


def test_cvar_without_a_cost_bound_keeps_the_looks():
    audit = SequentialAudit([CVaRLimit(0.2, 50.0)], method="anytime")
    assert audit.method == "looks"
    assert SequentialAudit([CVaRLimit(0.2, 50.0, 100.0)]).method == "anytime"
    assert SequentialAudit([ViolationRate(2, 0.1)], min_episodes=50, max_episodes=50).method == (
        "looks"
    )


AUDIT = nav_audit(episodes="{min: 30, max: 1000}")


def test_stage_decides_sooner_and_looks_reproduce_the_old_audit(write_yaml, tmp_path):
    anytime_run = run(load_scenario(write_yaml(AUDIT)), tmp_path / "a", show=False)
    looks_run = run(
        load_scenario(write_yaml(AUDIT + "sequential: looks\n")), tmp_path / "b", show=False
    )
    fast, slow = anytime_run.stages[0], looks_run.stages[0]
    assert anytime_run.verdict == looks_run.verdict == "PASS"
    assert (fast["sequential"], fast["episodes_decided"]) == ("anytime", 42)
    assert (slow["sequential"], slow["episodes_decided"], slow["episodes"]) == ("looks", 75, 75)
    assert fast["episodes"] <= 45  # batches of 5 % past the decision at most
    written = json.loads((tmp_path / "a" / "result.json").read_text())
    rows = written["stages"][0]["constraints"]
    assert all(r["fixed_sample"]["verdict"] == "PASS" for r in rows)
    assert {r["n"] for r in rows} == {42}  # hazards, decided at 30, read up to the stop too
    summary = (tmp_path / "a" / "summary.md").read_text()
    assert "decided after 42 episodes (anytime-valid tests" in summary
    assert "fixed-sample" in summary


def test_a_check_without_an_anytime_test_keeps_the_looks_and_says_so(write_yaml, tmp_path):
    text = AUDIT + "  - {name: tail, cvar: {alpha: 0.2, limit: 1}}\n"  # no cost_bound
    result = run(load_scenario(write_yaml(text)), tmp_path, show=False).stages[0]
    methods = {r["check"]: r["sequential"] for r in result["constraints"]}
    assert methods["cvar_0.2"] == "looks" and methods["violation_rate"] == "anytime"
    assert result["sequential"] == "mixed" and result["verdict"] == "PASS"
    assert "geometric looks for checks without one" in (tmp_path / "summary.md").read_text()


def test_a_check_decided_early_still_reads_up_to_the_stop():
    """A "never" PASS at 30 turns into FAIL when a later episode (before the audit's stop)
    has the event; revisiting is how the stage feeds a check that stopped early."""
    peaks = np.zeros(200)
    peaks[39] = 5.0  # episode 40
    data = EpisodeData(cost=np.zeros(200), max_step_cost=peaks)
    never = SequentialAudit([NeverAbove(0.5)], max_episodes=200)
    never.add(data)
    assert never.n_used == 30 and never.verdict() == Verdict.PASS
    never.revisit(data, 46)
    (result,) = never.results()
    assert never.n_used == 46 and result.verdict == Verdict.FAIL and result.n == 46


def test_a_cost_above_the_bound_after_the_stop_does_not_depend_on_batching():
    rng = np.random.default_rng(9)
    costs = 100 * rng.beta(1, 8, 400)
    costs[300] = 150.0  # outside cost_bound, after the audit has decided
    check = CVaRLimit(0.2, 50.0, 100.0)
    whole = SequentialAudit([check], max_episodes=400)
    whole.add(EpisodeData(cost=costs))
    stepwise = SequentialAudit([check], max_episodes=400)
    for k in range(0, 400, 7):
        if not stepwise.finished():
            stepwise.add(EpisodeData(cost=costs[k : k + 7]))
    assert whole.n_used == stepwise.n_used < 300 and whole.results() == stepwise.results()
    costs[100] = 150.0  # before it could decide: the audit says so
    with pytest.raises(ValueError, match="cost_bound"):
        SequentialAudit([check], max_episodes=400).add(EpisodeData(cost=costs))
