"""Game-theoretic ratings: α-Rank, Nash averaging, their intervals and the agreement line."""

from __future__ import annotations

import numpy as np
import pytest

from testbed.tournament.agreement import compare, find_cycle
from testbed.tournament.bradley_terry import bradley_terry
from testbed.tournament.metagame import (
    MetaGame,
    alpha_rank,
    choose_interval,
    game_theory,
    max_entropy_nash,
    nash_average,
)
from testbed.tournament.ratings import MatchResult, cross_play
from testbed.tournament.spec import RatingOptions
from testbed.tournament.stage import rate

RPS = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]]) / 2


def test_alpha_rank_reproduces_openspiel_han_et_al_2013():
    r, t, p, s, delta, eps = 1.0, 2.0, 0.0, -1.0, 4.0, 0.25
    payoff = np.array(
        [
            [r - eps / 2, r - eps, 0, s + delta - eps, r - eps],
            [r, r, s, s, s],
            [0, t, p, p, p],
            [t - delta, t, p, p, p],
            [r, t, p, p, p],
        ]
    )
    pi = alpha_rank(payoff, m=20, alpha=0.1)
    expected = [0.40966787, 0.07959841, 0.20506998, 0.08505983, 0.2206039]
    np.testing.assert_allclose(pi, expected, atol=1e-7)


def test_nash_averaging_of_rock_paper_scissors_is_uniform():
    mass, ratings = nash_average(RPS)
    np.testing.assert_allclose(mass, [1 / 3] * 3, atol=1e-6)
    np.testing.assert_allclose(ratings, 0.0, atol=1e-9)
    np.testing.assert_allclose(alpha_rank(RPS + 0.5), [1 / 3] * 3, atol=1e-9)


def test_nash_averaging_of_a_transitive_game_puts_all_mass_on_the_strongest():
    strength = np.array([0.3, 1.2, -0.5, 0.0])  # entrant 1 is strongest
    wins = 1 / (1 + np.exp(-(strength[:, None] - strength[None, :])))
    mass, ratings = nash_average(wins - 0.5)
    np.testing.assert_allclose(mass, [0, 1, 0, 0], atol=1e-9)
    assert ratings[1] == 0 and all(ratings[[0, 2, 3]] < 0)
    assert np.argsort(-ratings).tolist() == np.argsort(-strength).tolist()
    assert np.argmax(alpha_rank(wins)) == 1


def test_max_entropy_splits_mass_between_copies_and_keeps_ratings():
    rock_twice = np.array(
        [[0, 0, -1, 1], [0, 0, -1, 1], [1, 1, 0, -1], [-1, -1, 1, 0]], dtype=float
    )
    mass = max_entropy_nash(rock_twice / 2)
    np.testing.assert_allclose(mass, [1 / 6, 1 / 6, 1 / 3, 1 / 3], atol=1e-5)
    with pytest.raises(ValueError, match="antisymmetric"):
        max_entropy_nash(np.ones((2, 2)))


def test_random_games_give_equilibria_no_entrant_beats():
    rng = np.random.default_rng(0)
    for n in (2, 5, 9):
        a = rng.normal(size=(n, n))
        a = (a - a.T) / 4
        mass = max_entropy_nash(a)
        assert mass.sum() == pytest.approx(1.0) and mass.min() >= 0
        assert np.max(a @ mass) <= 1e-6  # no pure entrant scores above 1/2 against the mix


def cycle_with_weak(games: int) -> list[MatchResult]:
    """Rock, paper, scissors always beat their prey; weak loses to rock, splits with others."""
    out = []
    for _ in range(games):
        out += [
            MatchResult.from_outcome("rock", "scissors", "win"),
            MatchResult.from_outcome("scissors", "paper", "win"),
            MatchResult.from_outcome("paper", "rock", "win"),
            MatchResult.from_outcome("rock", "weak", "win"),
        ]
    for k in range(games):
        outcome = "win" if k % 2 else "loss"
        out += [
            MatchResult.from_outcome("paper", "weak", outcome),
            MatchResult.from_outcome("scissors", "weak", outcome),
        ]
    return out


def test_rps_with_a_weak_entrant_bt_misleads_and_the_line_says_why():
    options = RatingOptions(bootstrap=200, game_theory_bootstrap=100)
    ratings = rate_matches(cycle_with_weak(40), options)
    rows = {r["entrant"]: r for r in ratings.leaderboard_table}
    assert ratings.leaderboard_table[0]["entrant"] == "rock"  # BT: rock first, separated
    assert rows["rock"]["ci_low"] > max(rows["paper"]["ci_high"], rows["scissors"]["ci_high"])
    for name in ("rock", "paper", "scissors"):
        assert rows[name]["nash_mass"] == pytest.approx(1 / 3, abs=1e-5)
        assert rows[name]["nash"] == 0.0 and rows[name]["alpharank"] == pytest.approx(
            1 / 3, abs=0.02
        )
    assert rows["weak"]["nash"] < 0 and rows["weak"]["alpharank"] < 0.05
    verdict = ratings.game_theory["verdict"]
    assert not verdict["agree"] and verdict["significant"]
    assert set(verdict["cycle"]) == {"rock", "paper", "scissors"}
    assert "Disagree" in verdict["line"] and "mostly for beating weak" in verdict["line"]


def rate_matches(matches: list[MatchResult], options: RatingOptions):
    from testbed.tournament.play import GameResult

    games = [
        GameResult(i, 0, 0, list(m.entrants), i, list(m.scores), {}, 1, None, None, 0.0)
        for i, m in enumerate(matches)
    ]
    names = list(dict.fromkeys(e for m in matches for e in m.entrants))
    return rate(games, "game", names, options, seed=1)


def test_unanimous_pairings_switch_to_bayesian_intervals_with_a_note():
    matches = cycle_with_weak(10)
    table = cross_play(matches)
    assert len(MetaGame.from_cross_play(table).unanimous()) == 4
    assert choose_interval(table, "auto")[0] == "bayesian"
    kind, note = choose_interval(table, "bootstrap")
    assert kind == "bootstrap" and "too narrow" in note
    plain = bradley_terry(matches, n_bootstrap=200, seed=0)
    bayes = bradley_terry(matches, n_bootstrap=200, seed=0, resample="bayesian")
    width = {r.entrant: r.ci_high - r.ci_low for r in plain.ratings}
    bayes_width = {r.entrant: r.ci_high - r.ci_low for r in bayes.ratings}
    assert bayes_width["rock"] > 3 * width["rock"]  # rock's games never vary in the bootstrap
    game = MetaGame.from_cross_play(table)
    rng = np.random.default_rng(0)
    rock, scissors = table.entrants.index("rock"), table.entrants.index("scissors")
    assert np.ptp(game.resample(100, "bootstrap", rng)[:, rock, scissors]) == 0  # the collapse
    drawn = game.resample(100, "bayesian", rng)[:, rock, scissors]
    assert 0.5 < drawn.min() < np.quantile(drawn, 0.1) < 0.95 < drawn.max() <= 1.0
    low, high = MetaGame.from_cross_play(table).jeffreys(0.95)
    assert (low[rock, scissors], high[rock, scissors]) == (pytest.approx(0.7828, abs=1e-4), 1.0)


def test_transitive_tournament_agrees_and_gauntlet_is_explained():
    matches = [MatchResult.from_outcome("a", "b", "win")] * 6 + [
        MatchResult.from_outcome("b", "c", "win"),
        MatchResult.from_outcome("b", "c", "loss"),
        MatchResult.from_outcome("b", "c", "win"),
        MatchResult.from_outcome("a", "c", "win"),
    ]
    ratings = rate_matches(matches, RatingOptions(bootstrap=50, game_theory_bootstrap=30))
    verdict = ratings.game_theory["verdict"]
    assert verdict["agree"] and verdict["cycle"] is None and verdict["line"].startswith("Agree")
    gauntlet = rate_matches(matches[:6] + matches[-1:], RatingOptions(bootstrap=0))
    assert gauntlet.game_theory is None and "never played" in gauntlet.game_theory_error
    assert find_cycle(np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], bool)) == [0, 1, 2]
    theory = game_theory(cross_play(matches), n_bootstrap=0)
    assert compare(theory, ["a", "b", "c"])["agree"]


def test_reports_show_the_game_theoretic_table_and_the_lines():
    import io

    from rich.console import Console

    from testbed.tournament.report import TournamentView, tournament_markdown
    from testbed.tournament.stage import TournamentResult

    ratings = rate_matches(
        cycle_with_weak(10), RatingOptions(bootstrap=50, game_theory_bootstrap=30)
    )
    result = TournamentResult(name="t", env={"id": "classic/rps_v2"}, **vars(ratings))
    markdown = "\n".join(tournament_markdown(result))
    assert "| entrant | α-Rank π |" in markdown and "Jeffreys interval" in markdown
    assert "Disagree:" in markdown and "Intervals: 4 pairing(s)" in markdown
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(TournamentView(result))
    text = out.getvalue()
    assert "Game-theoretic ratings [95% CI, bayesian]" in text and "Nash rating" in text
    assert "weak" in text and "Disagree" in text
