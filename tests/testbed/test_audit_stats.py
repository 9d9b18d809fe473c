from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from testbed.audit.bounds import (
    bounded_mean_bounds,
    clopper_pearson,
    cvar,
    cvar_bounds_dkw,
    cvar_upper_betting,
    cvar_upper_bootstrap,
    dkw_epsilon,
)
from testbed.audit.sequential import (
    CostRegression,
    CVaRLimit,
    EpisodeData,
    InterventionRate,
    NeverAbove,
    SequentialAudit,
    ViolationRate,
    ViolationRegression,
    look_schedule,
)
from testbed.audit.stats import (
    Verdict,
    check_cost_regression,
    check_cvar,
    check_intervention_rate,
    check_never,
    check_violation_rate,
    check_violation_regression,
    decide,
    overall_verdict,
)

# --------------------------------------------------------------------------- Clopper–Pearson


@pytest.mark.parametrize("k,n", [(0, 1), (0, 10), (3, 10), (10, 10), (5, 100), (37, 250)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_clopper_pearson_matches_scipy_exact_intervals(k, n, confidence):
    test = stats.binomtest(k, n)
    ci = test.proportion_ci(confidence, method="exact")
    assert clopper_pearson(k, n, confidence) == pytest.approx((ci.low, ci.high), abs=1e-9)
    less = stats.binomtest(k, n, alternative="less").proportion_ci(confidence, method="exact")
    greater = stats.binomtest(k, n, alternative="greater").proportion_ci(confidence, "exact")
    assert clopper_pearson(k, n, confidence, "upper") == pytest.approx((0.0, less.high), abs=1e-9)
    assert clopper_pearson(k, n, confidence, "lower") == pytest.approx((greater.low, 1.0), abs=1e-9)


@pytest.mark.parametrize("n", [1, 5, 30, 59, 1000])
def test_zero_of_n_upper_bound_has_closed_form(n):
    assert clopper_pearson(0, n, 0.95, "upper")[1] == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)
    assert clopper_pearson(0, n, 0.95)[1] == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-12)
    # the "rule of three": about 3/n for 95%
    if n >= 100:
        assert clopper_pearson(0, n, 0.95, "upper")[1] == pytest.approx(3 / n, rel=0.01)


def test_clopper_pearson_edges_and_errors():
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    assert clopper_pearson(7, 7)[1] == 1.0 and clopper_pearson(0, 7)[0] == 0.0
    with pytest.raises(ValueError):
        clopper_pearson(3, 2)
    with pytest.raises(ValueError):
        clopper_pearson(1, 2, confidence=1.0)


def test_clopper_pearson_is_monotone():
    n = 60
    uppers = [clopper_pearson(k, n)[1] for k in range(n + 1)]
    lowers = [clopper_pearson(k, n)[0] for k in range(n + 1)]
    assert np.all(np.diff(uppers) > 0) and np.all(np.diff(lowers) > 0)
    by_n = [clopper_pearson(2, m)[1] for m in range(2, 200)]
    assert np.all(np.diff(by_n) < 0)
    widths = [np.diff(clopper_pearson(6, 40, c))[0] for c in (0.8, 0.9, 0.95, 0.99)]
    assert np.all(np.diff(widths) > 0)


# --------------------------------------------------------------------------- CVaR


def test_cvar_of_known_samples():
    x = np.arange(1.0, 11.0)
    assert cvar(x, 0.2) == pytest.approx(9.5)
    assert cvar(x, 0.25) == pytest.approx((10 + 9 + 0.5 * 8) / 2.5)
    assert cvar(x, 0.05) == pytest.approx(10.0)
    assert cvar(x, 1.0) == pytest.approx(5.5)
    assert cvar(np.full(7, 3.0), 0.1) == pytest.approx(3.0)
    assert math.isnan(cvar([], 0.1))
    with pytest.raises(ValueError):
        cvar(x, 0.0)


@pytest.mark.parametrize("alpha", [0.05, 0.2, 0.37, 1.0])
def test_cvar_equals_rockafellar_uryasev_minimum(alpha):
    x = np.random.default_rng(3).exponential(5.0, 53)
    # t + E[(X - t)+]/alpha is piecewise linear in t with kinks at the samples
    objective = [t + np.maximum(x - t, 0).mean() / alpha for t in np.concatenate(([0.0], x))]
    assert cvar(x, alpha) == pytest.approx(min(objective))


def test_dkw_bounds_bracket_estimate_and_respect_edges():
    x = np.arange(1.0, 11.0)
    assert dkw_epsilon(10, 0.95) == pytest.approx(math.sqrt(math.log(40) / 20))
    lower, upper = cvar_bounds_dkw(x, 0.2, 0.95, cost_bound=20.0)
    assert upper == 20.0  # epsilon 0.43 > alpha: the whole tail may sit at the bound
    assert 0.0 < lower < cvar(x, 0.2)
    lower_nb, upper_nb = cvar_bounds_dkw(x, 0.2, 0.95)
    assert lower_nb == lower and upper_nb == math.inf
    assert cvar_bounds_dkw([], 0.2, 0.95, 5.0) == (0.0, 5.0)
    with pytest.raises(ValueError):
        cvar_bounds_dkw([-1.0, 2.0], 0.2)
    with pytest.raises(ValueError):
        cvar_bounds_dkw([1.0, 30.0], 0.2, cost_bound=20.0)


def test_dkw_cvar_bounds_cover_the_true_value():
    # U(0, 1): CVaR_0.2 = 0.9; each side may miss with probability at most 2.5%
    rng = np.random.default_rng(11)
    bounds = np.array([cvar_bounds_dkw(rng.random(200), 0.2, 0.95, 1.0) for _ in range(400)])
    assert np.all(bounds[:, 0] <= 0.9) and np.all(bounds[:, 1] >= 0.9)
    narrower = cvar_bounds_dkw(rng.random(5000), 0.2, 0.95, 1.0)
    assert narrower[1] - narrower[0] < 0.2


def test_ru_betting_upper_covers_and_beats_dkw():
    # cost = 100 * Beta(1, 4): CVaR_0.2 = 100 * (1 - 4 * 0.2**0.25 / 5)
    truth = 100 * (1 - 4 * 0.2**0.25 / 5)
    rng = np.random.default_rng(8)
    samples = [100 * rng.beta(1, 4, 300) for _ in range(150)]
    uppers = np.array([cvar_upper_betting(x, 0.2, 100.0, 0.975) for x in samples])
    dkw = np.array([cvar_bounds_dkw(x, 0.2, 0.95, 100.0)[1] for x in samples])
    assert np.all(uppers >= truth)
    assert np.mean(uppers - truth) < 0.6 * np.mean(dkw - truth)
    # a loose cost bound is expensive (a few episodes at 1000 cannot be ruled out), but less
    # so than for DKW
    loose = cvar_upper_betting(samples[0], 0.2, 1000.0, 0.975)
    assert uppers[0] < loose < 0.5 * cvar_bounds_dkw(samples[0], 0.2, 0.95, 1000.0)[1]
    assert cvar_upper_betting([], 0.2, 7.0) == 7.0
    with pytest.raises(ValueError):
        cvar_upper_betting([1.0, 8.0], 0.2, 7.0)


def test_bootstrap_upper_is_above_estimate_and_deterministic():
    x = np.random.default_rng(5).exponential(3.0, 300)
    up = cvar_upper_bootstrap(x, 0.1, 0.975, seed=1)
    assert cvar(x, 0.1) < up == cvar_upper_bootstrap(x, 0.1, 0.975, seed=1)


# --------------------------------------------------------------------------- bounded means


def test_betting_bound_on_zeros_is_near_clopper_pearson():
    lower, upper = bounded_mean_bounds(np.zeros(200), 0.95)
    exact = clopper_pearson(0, 200, 0.95)[1]
    assert lower == 0.0 and exact < upper < 1.4 * math.log(2 / 0.05) / 200


def test_betting_bounds_cover_and_shrink():
    rng = np.random.default_rng(2)
    mean = 1 / 20  # Beta(1, 19)
    bounds = np.array([bounded_mean_bounds(rng.beta(1, 19, 300)) for _ in range(200)])
    assert np.all(bounds[:, 0] <= mean) and np.all(bounds[:, 1] >= mean)
    assert np.mean(bounds[:, 1] - bounds[:, 0]) < 0.04
    assert bounded_mean_bounds([]) == (0.0, 1.0)
    with pytest.raises(ValueError):
        bounded_mean_bounds([0.5, 1.5])


# --------------------------------------------------------------------------- verdicts


def test_decide_and_overall():
    assert decide(0.01, 0.09, 0.1) == Verdict.PASS
    assert decide(0.11, 0.3, 0.1) == Verdict.FAIL
    assert decide(0.05, 0.1, 0.1) == Verdict.INCONCLUSIVE  # upper must be strictly below
    passed = check_violation_rate([0.0] * 100, 25, 0.5)
    incon = check_violation_rate([0.0] * 5, 25, 0.1)
    fail = check_violation_rate([30.0] * 100, 25, 0.1)
    assert (passed.verdict, fail.verdict, incon.verdict) == tuple(Verdict)
    assert overall_verdict([passed, passed]) == Verdict.PASS
    assert overall_verdict([passed, incon]) == Verdict.INCONCLUSIVE
    assert overall_verdict([passed, incon, fail]) == Verdict.FAIL


def test_violation_rate_verdicts_and_report():
    costs = np.r_[np.full(3, 30.0), np.zeros(297)]  # 1% violations
    result = check_violation_rate(costs, 25, 0.05)
    assert result.verdict == Verdict.PASS and result.n == 300
    assert result.estimate == pytest.approx(0.01)
    assert (result.lower, result.upper) == pytest.approx(clopper_pearson(3, 300, 0.95))
    assert "3 of 300" in result.explanation and "PASS" in result.explanation
    assert check_violation_rate(costs, 25, 0.01).verdict == Verdict.INCONCLUSIVE
    assert check_violation_rate(costs, 25, 0.001).verdict == Verdict.FAIL
    # a cost exactly at the limit is not a violation
    assert check_violation_rate([25.0] * 100, 25, 0.05).estimate == 0.0
    empty = check_violation_rate([], 25, 0.1)
    assert empty.verdict == Verdict.INCONCLUSIVE and empty.to_dict()["estimate"] is None
    assert empty.to_dict()["verdict"] == "INCONCLUSIVE"


def test_never_fails_on_sight_and_passes_with_a_bound():
    clean = np.zeros(58)
    result = check_never(clean, threshold=5.0)
    assert result.verdict == Verdict.PASS
    assert result.upper == pytest.approx(1 - 0.05 ** (1 / 58))
    assert "no step cost above 5 in 58 episodes" in result.explanation
    assert check_never(clean, 5.0, max_rate=0.05).verdict == Verdict.INCONCLUSIVE  # U = 0.0503
    assert check_never(np.zeros(59), 5.0, max_rate=0.05).verdict == Verdict.PASS  # U = 0.0495
    hit = check_never(np.r_[clean, 5.5, 0.0], 5.0, max_rate=0.5)
    assert hit.verdict == Verdict.FAIL and "1 of 60" in hit.explanation
    assert check_never([], 5.0).verdict == Verdict.INCONCLUSIVE


def test_intervention_rate_per_episode_and_per_step():
    counts = np.r_[np.ones(2), np.zeros(198)]
    per_episode = check_intervention_rate(counts * 7, 0.05)
    assert per_episode.verdict == Verdict.PASS and per_episode.estimate == pytest.approx(0.01)
    steps = np.full(200, 100.0)
    per_step = check_intervention_rate(counts * 7, 0.05, steps=steps)
    assert per_step.method == "betting" and per_step.estimate == pytest.approx(0.0007)
    assert per_step.verdict == Verdict.PASS
    busy = check_intervention_rate(np.full(200, 30.0), 0.05, steps=steps)
    assert busy.verdict == Verdict.FAIL and busy.lower > 0.05
    with pytest.raises(ValueError):
        check_intervention_rate([5.0], 0.1, steps=[3.0])


def test_cvar_check_sound_and_approximate_paths():
    rng = np.random.default_rng(4)
    costs = rng.uniform(0, 10, 2000)  # CVaR_0.5 = 7.5
    sound = check_cvar(costs, 0.5, 9.0, cost_bound=10.0)
    assert sound.verdict == Verdict.PASS and not sound.approximate
    assert sound.method == "dkw / ru-betting"
    assert sound.lower < 7.5 < sound.upper < 9.0
    assert check_cvar(costs, 0.5, 7.0, cost_bound=10.0).verdict == Verdict.FAIL
    assert check_cvar(costs, 0.5, 7.5, cost_bound=10.0).verdict == Verdict.INCONCLUSIVE
    approx = check_cvar(costs, 0.5, 9.0)
    assert approx.approximate and "approximate" in approx.explanation
    assert approx.verdict == Verdict.PASS and approx.upper < sound.upper
    assert check_cvar([], 0.5, 9.0, cost_bound=10.0).verdict == Verdict.INCONCLUSIVE


def test_mcnemar_regression_exact_p_value():
    base = np.zeros(100)
    cand = np.zeros(100)
    cand[:8] = 30.0  # 8 candidate-only violations
    base[8] = 30.0  # 1 baseline-only
    result = check_violation_regression(cand, base, cost_limit=25)
    assert result.p_value == pytest.approx(10 / 512)  # P(Bin(9, 1/2) >= 8)
    assert result.verdict == Verdict.FAIL and result.estimate == pytest.approx(0.07)
    assert check_violation_regression(cand, base, 25, confidence=0.99).verdict == Verdict.PASS
    early = check_violation_regression(cand, base, 25, confidence=0.99, final=False)
    assert early.verdict == Verdict.INCONCLUSIVE
    reverse = check_violation_regression(base, cand, 25)
    assert reverse.p_value == pytest.approx(511 / 512) and reverse.verdict == Verdict.PASS
    with pytest.raises(ValueError):
        check_violation_regression(cand, base[:50], 25)


def test_sign_test_regression_ignores_ties():
    base = np.arange(20.0)
    cand = base.copy()
    cand[:6] += 1.0  # 6 higher, 14 tied
    result = check_cost_regression(cand, base)
    assert result.p_value == pytest.approx(0.5**6) and result.verdict == Verdict.FAIL
    assert "14 tied" in result.explanation and result.estimate == pytest.approx(0.3)
    mixed = cand.copy()
    mixed[6:10] -= 1.0  # now 6 higher, 4 lower
    assert check_cost_regression(mixed, base).verdict == Verdict.PASS


# --------------------------------------------------------------------------- sequential


def _violation_stream(p: float, n: int, seed: int) -> EpisodeData:
    rng = np.random.default_rng(seed)
    return EpisodeData(cost=np.where(rng.random(n) < p, 40.0, 0.0))


def test_look_schedule():
    looks = look_schedule(30, 1000)
    assert looks[0] == 30 and looks[-1] == 1000 and len(looks) == 17
    assert all(b > a for a, b in zip(looks, looks[1:], strict=False))
    assert look_schedule(50, 50) == (50,)
    assert look_schedule(1, 4, growth=1.01) == (1, 2, 3, 4)
    with pytest.raises(ValueError):
        look_schedule(10, 5)


METHODS = pytest.mark.parametrize("method", ["anytime", "looks"])


@METHODS
def test_sequential_stops_early_for_clearly_safe_and_clearly_unsafe(method):
    safe = SequentialAudit([ViolationRate(25, 0.1)], method=method)
    safe.add(_violation_stream(0.01, 1000, seed=1))
    assert safe.decided() and safe.verdict() == Verdict.PASS and safe.n_used <= 120
    unsafe = SequentialAudit([ViolationRate(25, 0.1)], method=method)
    unsafe.add(_violation_stream(0.4, 1000, seed=2))
    assert unsafe.verdict() == Verdict.FAIL and unsafe.n_used <= 60
    assert {"anytime": "anytime", "looks": "look"}[method] in unsafe.results()[0].explanation


@METHODS
def test_sequential_borderline_runs_to_max_and_is_inconclusive(method):
    audit = SequentialAudit(
        [ViolationRate(25, 0.1)], min_episodes=30, max_episodes=500, method=method
    )
    audit.add(_violation_stream(0.1, 500, seed=3))
    assert audit.finished() and not audit.decided()
    assert audit.verdict() == Verdict.INCONCLUSIVE and audit.n_used == 500
    assert audit.episodes_needed() == 0


@METHODS
def test_sequential_result_does_not_depend_on_batching(method):
    stream = _violation_stream(0.03, 1000, seed=4)
    whole = SequentialAudit([ViolationRate(25, 0.1)], method=method)
    whole.add(stream)
    stepwise = SequentialAudit([ViolationRate(25, 0.1)], method=method)
    for k in range(1000):
        if stepwise.finished():
            break
        stepwise.add(stream[k : k + 1])
    by_look = SequentialAudit([ViolationRate(25, 0.1)], method=method)
    while not by_look.finished():
        start = by_look.n_seen
        by_look.add(stream[start : start + by_look.episodes_needed()])
    assert whole.results() == stepwise.results() == by_look.results()
    assert stepwise.n_seen == stepwise.n_used
    if method == "looks":
        assert by_look.n_seen == by_look.n_used  # the harness ran no wasted episodes
    else:  # batches of 5 % waste at most that
        assert by_look.n_used <= by_look.n_seen <= math.ceil(by_look.n_used * 1.05) + 1


def test_single_look_equals_fixed_n_check():
    stream = _violation_stream(0.05, 200, seed=5)
    audit = SequentialAudit([ViolationRate(25, 0.1)], min_episodes=200, max_episodes=200)
    audit.add(stream)
    fixed = check_violation_rate(stream.cost, 25, 0.1, 0.95)
    got = audit.results()[0]
    assert audit.look_confidence == 0.95
    assert (got.verdict, got.lower, got.upper) == (fixed.verdict, fixed.lower, fixed.upper)


@METHODS
def test_sequential_waits_for_every_constraint(method):
    rng = np.random.default_rng(6)
    n = 1000
    data = EpisodeData(
        cost=np.where(rng.random(n) < 0.01, 40.0, 0.0),
        max_step_cost=np.zeros(n),
        interventions=np.zeros(n),
        steps=np.full(n, 50.0),
    )
    alone = SequentialAudit([ViolationRate(25, 0.1)], method=method)
    alone.add(data)
    audit = SequentialAudit(
        [
            ViolationRate(25, 0.1),
            NeverAbove(10.0, max_rate=0.02),
            InterventionRate(0.05, per="step"),
            CVaRLimit(alpha=0.5, limit=30.0, cost_bound=40.0),
        ],
        method=method,
    )
    audit.add(data)
    assert audit.verdict() == Verdict.PASS and audit.method == method
    assert audit.n_used > alone.n_used  # "never" at 2% needs more episodes than the rate
    if method == "looks":
        assert all(r.n == audit.n_used for r in audit.results())
    else:  # each result is stated at the episode that decided it
        assert max(r.n for r in audit.results()) == audit.n_used


def test_sequential_keeps_a_decision_through_inconclusive_looks():
    cost = np.zeros(60)
    cost[30:38] = 40.0  # clean first look, then a burst of violations
    data = EpisodeData(cost=cost, max_step_cost=np.zeros(60))
    audit = SequentialAudit(
        [ViolationRate(25, 0.2), NeverAbove(100.0, max_rate=0.01)], max_episodes=60, method="looks"
    )
    assert audit.looks == (30, 38, 48, 60)
    audit.add(data)
    rate, never = audit.results()
    assert (rate.verdict, rate.n) == (Verdict.PASS, 30)  # later looks were INCONCLUSIVE
    assert (never.verdict, never.n) == (Verdict.INCONCLUSIVE, 60)
    assert audit.verdict() == Verdict.INCONCLUSIVE


@METHODS
def test_sequential_never_event_after_early_pass_fails(method):
    steps = np.zeros(200)
    steps[100] = 50.0
    data = EpisodeData(cost=np.zeros(200), max_step_cost=steps)
    audit = SequentialAudit(
        [NeverAbove(10.0), ViolationRate(25, 0.01)],
        min_episodes=30,
        max_episodes=200,
        method=method,
    )
    audit.add(data[:30])
    assert audit.results()[0].verdict == Verdict.PASS and not audit.finished()
    audit.add(data[30:])
    assert audit.results()[0].verdict == Verdict.FAIL and audit.verdict() == Verdict.FAIL


@METHODS
def test_sequential_regression_fails_early_but_passes_only_at_max(method):
    rng = np.random.default_rng(7)
    base = np.where(rng.random(400) < 0.05, 40.0, 0.0)
    worse = np.where(rng.random(400) < 0.5, 40.0, base)
    checks = [ViolationRegression(25), CostRegression()]
    bad = SequentialAudit(checks, max_episodes=400, method=method)
    bad.add(EpisodeData(cost=worse, baseline_cost=base))
    assert bad.verdict() == Verdict.FAIL and bad.n_used < 100
    same = SequentialAudit(checks, max_episodes=400, method=method)
    same.add(EpisodeData(cost=base.copy(), baseline_cost=base)[:399])
    assert not same.finished() and same.episodes_needed() == 1
    assert {r.verdict for r in same.results()} == {Verdict.INCONCLUSIVE}
    same.add(EpisodeData(cost=base[399:], baseline_cost=base[399:]))
    assert same.verdict() == Verdict.PASS and same.n_used == 400


@METHODS
def test_sequential_input_errors(method):
    audit = SequentialAudit([NeverAbove(1.0)], method=method)
    with pytest.raises(RuntimeError):
        audit.results()
    with pytest.raises(ValueError, match="max_step_cost"):
        audit.add(EpisodeData(cost=np.zeros(40)))
    with pytest.raises(ValueError, match="differ in length"):
        EpisodeData(cost=np.zeros(3), steps=np.zeros(2))
    with pytest.raises(ValueError, match="disagree"):
        EpisodeData(cost=np.zeros(2)).concat(EpisodeData(cost=np.zeros(2), steps=np.ones(2)))
    with pytest.raises(ValueError):
        SequentialAudit([])
    with pytest.raises(ValueError, match="anytime"):
        SequentialAudit([NeverAbove(1.0)], method="sometimes")  # type: ignore[arg-type]
