from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from testbed.tournament.bradley_terry import ELO_PER_NAT, bradley_terry, simulate_round_robin
from testbed.tournament.ratings import MatchResult, cross_play, elo, elo_expected, openskill_ratings

TRUTH = {"A": 1650.0, "B": 1550.0, "C": 1450.0, "D": 1350.0}  # mean 1500, gaps of 100


def test_elo_known_values():
    win = elo([MatchResult.from_outcome("a", "b", "win")], k=32)
    assert win == {"a": 1516.0, "b": 1484.0}
    assert elo([MatchResult.from_outcome("a", "b", "draw")]) == {"a": 1500.0, "b": 1500.0}
    # 1600 vs 1400: expected 1 / (1 + 10^-0.5) = 0.75975, so an upset moves 32 * 0.75975
    assert elo_expected(1600, 1400) == pytest.approx(0.759747, abs=1e-6)
    ratings = elo(
        [MatchResult.from_outcome("a", "b", "win")] * 3 + [MatchResult.from_outcome("b", "a", 1)],
        k=20,
        initial=1000,
    )
    assert sum(ratings.values()) == pytest.approx(2000.0)
    reordered = elo(
        [MatchResult.from_outcome("b", "a", 1)] + [MatchResult.from_outcome("a", "b", "win")] * 3,
        k=20,
        initial=1000,
    )
    assert ratings["a"] != pytest.approx(reordered["a"])  # Elo depends on match order


def test_cross_play_pools_seats_and_splits_free_for_all():
    matches = [
        MatchResult.from_outcome("A", "B", "win"),
        MatchResult.from_outcome("B", "A", "win"),  # seats swapped: B beat A
        MatchResult.from_outcome("B", "A", "draw"),
        MatchResult.from_outcome("A", "C", "loss"),
        MatchResult.from_outcome("A", "A", "win"),  # mirror match: ignored
    ]
    table = cross_play(matches)
    i = {e: k for k, e in enumerate(table.entrants)}
    assert table.wins[i["A"], i["B"]] == 1 and table.losses[i["A"], i["B"]] == 1
    assert table.draws[i["A"], i["B"]] == table.draws[i["B"], i["A"]] == 1
    assert table.payoff[i["A"], i["B"]] == 0.5 and table.payoff[i["C"], i["A"]] == 1.0
    assert math.isnan(table.payoff[i["B"], i["C"]]) and table.games[i["A"], i["A"]] == 0
    assert table.to_dict()["table"]["A"]["C"] == {"wins": 0, "draws": 0, "losses": 1, "score": 0}

    ffa = cross_play([MatchResult.from_places(["x", "y", "z"], [2, 1, 2])])
    j = {e: k for k, e in enumerate(ffa.entrants)}
    assert ffa.wins[j["y"], j["x"]] == ffa.wins[j["y"], j["z"]] == 1
    assert ffa.draws[j["x"], j["z"]] == 1 and ffa.wins.sum() == 2


def test_match_result_validation():
    with pytest.raises(ValueError, match="two sides"):
        MatchResult(("a",), (1.0,))
    with pytest.raises(ValueError, match="scores"):
        MatchResult(("a", "b"), (1.0,))
    with pytest.raises(ValueError, match="outcome"):
        MatchResult.from_outcome("a", "b", "victory")
    ffa = [MatchResult(("a", "b", "c"), (3, 2, 1))]
    with pytest.raises(ValueError, match="openskill"):
        bradley_terry(ffa)
    with pytest.raises(ValueError, match="openskill"):
        elo(ffa)
    apart = [MatchResult.from_outcome("a", "b", 1), MatchResult.from_outcome("c", "d", 1)]
    with pytest.raises(ValueError, match="never played each other"):
        bradley_terry(apart, n_bootstrap=0)


def test_recovers_known_order_and_gaps_with_draws():
    matches = simulate_round_robin(TRUTH, 300, draw_nu=1.0, seed=1)
    result = bradley_terry(matches, n_bootstrap=300, seed=2)
    assert result.entrants == ("A", "B", "C", "D")
    assert sum(r.ci_low < TRUTH[r.entrant] < r.ci_high for r in result.ratings) >= 3
    for r in result.ratings:
        assert abs(r.rating - TRUTH[r.entrant]) < 40  # about 3 standard errors
        assert r.rank_low == r.rank_high == r.rank
        # Laplace and bootstrap agree on the uncertainty
        assert (r.ci_high - r.ci_low) / (2 * 1.96) == pytest.approx(r.se, rel=0.25)
    assert result.draw_nu == pytest.approx(1.0, abs=0.2)
    assert all(result.separated(a, b) for a, b in zip("ABC", "BCD", strict=True))
    p_win, p_draw, p_loss = result.predict("A", "D")
    assert p_win + p_draw + p_loss == pytest.approx(1.0)
    assert p_win / p_loss == pytest.approx(10 ** ((result["A"].rating - result["D"].rating) / 400))


def _direct_negative_log_posterior(params, matches, names, use_draws, seat, prior_sd):
    """The model written out match by match, independent of the batched implementation."""
    index = {e: k for k, e in enumerate(names)}
    n = len(names)
    theta = params[:n]
    nu = math.exp(params[n]) if use_draws else 0.0
    h = params[-1] if seat else 0.0
    total = 0.0
    for m in matches:
        x = theta[index[m.entrants[0]]] - theta[index[m.entrants[1]]] + h
        z = math.exp(x / 2) + nu + math.exp(-x / 2)
        top = {1.0: math.exp(x / 2), 0.5: nu, 0.0: math.exp(-x / 2)}[m.point(0, 1)]
        total -= math.log(top / z)
    tau = prior_sd / ELO_PER_NAT
    total += 0.5 * float(np.sum(theta**2)) / tau**2
    if use_draws:
        total += 0.5 * params[n] ** 2 / 4.0
    if seat:
        total += 0.5 * h**2 / tau**2
    return total


@pytest.mark.parametrize("draw_nu,seat", [(0.0, False), (0.6, True)])
def test_newton_fit_matches_direct_optimisation(draw_nu, seat):
    truth = {"a": 1700.0, "b": 1500.0, "c": 1450.0}
    matches = simulate_round_robin(truth, 12, draw_nu=draw_nu, seat_advantage=80, seed=3)
    matches.append(MatchResult.from_outcome("a", "c", "win"))  # unbalanced seats
    names = ["a", "b", "c"]
    use_draws = draw_nu > 0
    size = 3 + int(use_draws) + int(seat)
    direct = minimize(
        _direct_negative_log_posterior,
        np.zeros(size),
        args=(matches, names, use_draws, seat, 300.0),
        method="BFGS",
        options={"gtol": 1e-8},
    )
    result = bradley_terry(
        matches, entrants=names, seat_advantage=seat, prior_sd=300.0, n_bootstrap=0
    )
    expected = 1500 + ELO_PER_NAT * (direct.x[:3] - direct.x[:3].mean())
    for name, value in zip(names, expected, strict=True):
        assert result[name].rating == pytest.approx(value, abs=1e-3)
    if use_draws:
        assert result.draw_nu == pytest.approx(math.exp(direct.x[3]), rel=1e-4)
    if seat:
        assert result.seat_advantage == pytest.approx(ELO_PER_NAT * direct.x[-1], abs=1e-3)


def test_all_draws_give_equal_ratings():
    matches = [MatchResult.from_outcome(a, b, "draw") for a, b in ["AB", "BC", "CA", "BA"] * 5]
    result = bradley_terry(matches, n_bootstrap=50)
    assert [r.rating for r in result.ratings] == pytest.approx([1500.0] * 3, abs=1e-6)
    assert result.draw_nu > 20  # almost every game between equals is drawn
    half = bradley_terry(matches, draw_model="half", n_bootstrap=0)
    assert [r.rating for r in half.ratings] == pytest.approx([1500.0] * 3, abs=1e-6)


def test_without_draws_davidson_is_bradley_terry():
    matches = simulate_round_robin(TRUTH, 20, seed=4)
    davidson = bradley_terry(matches, n_bootstrap=0)
    half = bradley_terry(matches, draw_model="half", n_bootstrap=0)
    assert davidson.draw_nu == 0.0
    assert [r.rating for r in davidson.ratings] == pytest.approx([r.rating for r in half.ratings])


def test_undefeated_entrant_gets_a_finite_top_rating():
    matches = simulate_round_robin({"b": 1500.0, "c": 1400.0}, 10, seed=5)
    matches += [MatchResult.from_outcome("a", x, "win") for x in "bc" for _ in range(5)]
    result = bradley_terry(matches, n_bootstrap=200)
    top = result.ratings[0]
    assert top.entrant == "a" and top.score == 1.0
    assert math.isfinite(top.rating) and math.isfinite(top.ci_high)
    assert 300 < top.rating - result["b"].rating < 1200
    assert top.rank_low == top.rank_high == 1


def test_bootstrap_intervals_widen_with_fewer_games_and_cover_truth():
    widths = {}
    for games in (20, 200):
        result = bradley_terry(simulate_round_robin(TRUTH, games, seed=6), seed=7)
        widths[games] = np.mean([r.ci_high - r.ci_low for r in result.ratings])
        covered = sum(r.ci_low <= TRUTH[r.entrant] <= r.ci_high for r in result.ratings)
        assert covered >= 3
    # interval width shrinks like 1 / sqrt(games): 10x the games, about a third of the width
    assert 2.3 < widths[20] / widths[200] < 4.5
    few = bradley_terry(simulate_round_robin(TRUTH, 20, seed=6), seed=7)
    assert any(r.rank_high > r.rank_low for r in few.ratings)


def test_pairwise_probabilities_are_consistent_and_seeded():
    matches = simulate_round_robin(TRUTH, 15, draw_nu=0.5, seed=8)
    result = bradley_terry(matches, n_bootstrap=400, seed=9)
    p = result.prob_better
    assert np.allclose(p + p.T, 1.0) and np.allclose(np.diag(p), 0.5)
    assert result.p_better("A", "D") > 0.99 and result.separated("A", "D")
    again = bradley_terry(matches, n_bootstrap=400, seed=9)
    assert np.array_equal(again.prob_better, p) and again.ratings == result.ratings
    by_match = bradley_terry(matches, n_bootstrap=400, seed=9, resample="match")
    assert by_match.entrants == result.entrants and not np.array_equal(by_match.prob_better, p)
    data = result.to_dict()
    assert len(data["neighbours_separated"]) == 3 and set(data["prob_better"]["A"]) == set("BCD")


def test_seat_advantage_and_anchor():
    matches = simulate_round_robin(TRUTH, 200, draw_nu=0.5, seat_advantage=120.0, seed=10)
    result = bradley_terry(matches, seat_advantage=True, anchor="D", anchor_rating=0.0, seed=11)
    assert result["D"].rating == 0.0 and result["D"].se == 0.0
    assert result.seat_advantage == pytest.approx(120.0, abs=35)
    low, high = result.seat_advantage_ci
    assert low < 120.0 < high
    assert result["A"].rating == pytest.approx(300.0, abs=50)


def test_openskill_free_for_all_recovers_order():
    strengths = {"p1": 2.0, "p2": 1.0, "p3": 0.0, "p4": -1.0}
    rng = np.random.default_rng(12)
    names = list(strengths)
    matches = []
    for _ in range(150):
        seats = rng.permutation(names)
        performance = [strengths[e] + rng.gumbel() for e in seats]
        matches.append(MatchResult(tuple(seats), tuple(performance)))
    skills = openskill_ratings(matches)
    assert [s.entrant for s in skills] == names
    assert all(s.matches == 150 and s.sigma < 25 / 3 for s in skills)
    assert all(s.ordinal == pytest.approx(s.mu - 3 * s.sigma) for s in skills)
    assert skills[0].ordinal > skills[-1].mu + 3 * skills[-1].sigma  # best and worst apart


def test_openskill_rates_players_inside_teams():
    members = {"ab": ("a", "b"), "cd": ("c", "d"), "ac": ("a", "c"), "bd": ("b", "d")}
    rng = np.random.default_rng(13)
    strength = {"a": 2.0, "b": 0.0, "c": 0.0, "d": -2.0}
    matches = []
    for _ in range(60):
        for x, y in (("ab", "cd"), ("ac", "bd")):
            sx = sum(strength[p] for p in members[x]) + rng.logistic()
            sy = sum(strength[p] for p in members[y]) + rng.logistic()
            matches.append(MatchResult((x, y), (sx, sy)))
    skills = {s.entrant: s for s in openskill_ratings(matches, members=members)}
    assert set(skills) == set("abcd")
    assert skills["a"].mu > max(skills["b"].mu, skills["c"].mu) > skills["d"].mu
    with pytest.raises(ValueError, match="unknown openskill model"):
        openskill_ratings(matches, model="glicko")
