"""Rating recovery: games per pair needed for the right order and separated neighbours.

Four entrants of known strength (Elo 1650, 1550, 1450, 1350: neighbours 100 apart) play a
round robin of G games per pair, seats alternating, with and without draws (Davidson nu = 1:
a third of the games between equals drawn, chess-like). For each G, many simulated tournaments
are rated with `testbed.bradley_terry.bradley_terry` (bootstrap by pairing) and with sequential
Elo (K = 32, games applied round by round). Reported per G:

- exact_order: share of tournaments whose fitted order is exactly the true one (BT; Elo);
- neighbours_separated: mean share of the three neighbour pairs the bootstrap separates at 95%
  (P(better) >= 0.975), and all_neighbours_separated: share of tournaments separating all three;
- wrong_separation: share of tournaments separating some pair in the wrong direction;
- rating_coverage / rank_coverage: share of 95% intervals holding the true rating / rank;
- mean_ci_width and mean_abs_error in Elo points.

"games_needed" is the smallest G in the grid at which >= 80% (and >= 95%) of tournaments
separate all neighbours; alongside, the normal-theory (Laplace) number of games per pair that
gives 80% power to separate one neighbour pair at the 5% level. A small free-for-all part
rates 4-player Plackett–Luce games with `openskill_ratings` and reports how often the order
by mu and by ordinal is exactly right.

    .venv/bin/python benchmarks/ratings_recovery.py [--tournaments 200] [--bootstrap 500]

Writes benchmarks/results/ratings_recovery.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from testbed.tournament.bradley_terry import ELO_PER_NAT, bradley_terry, simulate_round_robin
from testbed.tournament.ratings import MatchResult, elo, openskill_ratings

TRUTH = {"A": 1650.0, "B": 1550.0, "C": 1450.0, "D": 1350.0}
ORDER = tuple(TRUTH)
GAMES = (10, 30, 100, 300)
DRAW_SETTINGS = {"no_draws": 0.0, "draws_nu_1": 1.0}


def rate_tournaments(games: int, draw_nu: float, tournaments: int, bootstrap: int) -> dict:
    exact = exact_elo = all_separated = wrong = 0
    separated_share, coverage, rank_coverage, widths, errors = [], [], [], [], []
    draw_share = []
    for t in range(tournaments):
        matches = simulate_round_robin(TRUTH, games, draw_nu=draw_nu, seed=t)
        draw_share.append(np.mean([m.scores[0] == m.scores[1] for m in matches]))
        result = bradley_terry(matches, entrants=ORDER, n_bootstrap=bootstrap, seed=10_000 + t)
        exact += result.entrants == ORDER
        elo_ratings = elo(matches, k=32.0, entrants=ORDER)
        exact_elo += tuple(sorted(ORDER, key=lambda e: -elo_ratings[e])) == ORDER
        neighbours = [
            result.p_better(a, b) >= 0.975 for a, b in zip(ORDER, ORDER[1:], strict=False)
        ]
        separated_share.append(np.mean(neighbours))
        all_separated += all(neighbours)
        wrong += any(
            result.p_better(b, a) >= 0.975 for i, a in enumerate(ORDER) for b in ORDER[i + 1 :]
        )
        for true_rank, name in enumerate(ORDER, start=1):
            r = result[name]
            coverage.append(r.ci_low <= TRUTH[name] <= r.ci_high)
            rank_coverage.append(r.rank_low <= true_rank <= r.rank_high)
            widths.append(r.ci_high - r.ci_low)
            errors.append(abs(r.rating - TRUTH[name]))
    return {
        "games_per_pair": games,
        "exact_order": exact / tournaments,
        "exact_order_elo_k32": exact_elo / tournaments,
        "neighbours_separated": float(np.mean(separated_share)),
        "all_neighbours_separated": all_separated / tournaments,
        "wrong_separation": wrong / tournaments,
        "rating_coverage": float(np.mean(coverage)),
        "rank_coverage": float(np.mean(rank_coverage)),
        "mean_ci_width": float(np.mean(widths)),
        "mean_abs_error": float(np.mean(errors)),
        "draw_share": float(np.mean(draw_share)),
    }


def games_needed(rows: list[dict], power: float) -> int | None:
    hits = [r["games_per_pair"] for r in rows if r["all_neighbours_separated"] >= power]
    return min(hits) if hits else None


def laplace_games_needed(draw_nu: float, power_z: float = 1.96 + 0.8416) -> int:
    """Games per pair for 80% power to separate the hardest neighbour pair (normal theory).

    The standard error of a neighbour difference is read from one huge simulated tournament
    (anchor = one of the pair, so `se` of the other is the se of the difference) and scaled by
    1 / sqrt(games).
    """
    big = 20_000
    matches = simulate_round_robin(TRUTH, big, draw_nu=draw_nu, seed=1)
    worst = 0.0
    for a, b in zip(ORDER, ORDER[1:], strict=False):
        result = bradley_terry(matches, anchor=a, n_bootstrap=0)
        worst = max(worst, result[b].se * np.sqrt(big))
    gap = TRUTH[ORDER[0]] - TRUTH[ORDER[1]]
    return int(np.ceil((power_z * worst / gap) ** 2))


def free_for_all(games: int, tournaments: int) -> dict:
    """4-player games, finishing order drawn from Plackett–Luce with the same strengths."""
    theta = {name: (rating - 1500.0) / ELO_PER_NAT for name, rating in TRUTH.items()}
    exact_mu = exact_ordinal = 0
    for t in range(tournaments):
        rng = np.random.default_rng(t)
        matches = []
        for _ in range(games):
            seats = tuple(rng.permutation(ORDER))
            matches.append(MatchResult(seats, tuple(theta[e] + rng.gumbel() for e in seats)))
        skills = openskill_ratings(matches)
        exact_mu += tuple(s.entrant for s in sorted(skills, key=lambda s: -s.mu)) == ORDER
        exact_ordinal += tuple(s.entrant for s in skills) == ORDER
    return {
        "games": games,
        "exact_order_mu": exact_mu / tournaments,
        "exact_order_ordinal": exact_ordinal / tournaments,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tournaments", type=int, default=200)
    parser.add_argument("--bootstrap", type=int, default=500)
    parser.add_argument("--ffa-tournaments", type=int, default=100)
    args = parser.parse_args()
    start = time.perf_counter()
    results: dict = {
        "truth_elo": TRUTH,
        "tournaments_per_cell": args.tournaments,
        "bootstrap_replicates": args.bootstrap,
        "bootstrap": "pairing, percentile 95%",
        "two_sided": {},
    }
    for label, nu in DRAW_SETTINGS.items():
        rows = [rate_tournaments(g, nu, args.tournaments, args.bootstrap) for g in GAMES]
        results["two_sided"][label] = {
            "draw_nu": nu,
            "by_games_per_pair": rows,
            "games_needed_80pct": games_needed(rows, 0.8),
            "games_needed_95pct": games_needed(rows, 0.95),
            "laplace_games_for_80pct_power_per_neighbour": laplace_games_needed(nu),
        }
        print(f"{label} (nu={nu})")
        print("  G    exact  exactElo  sep   allSep  wrong  cover  rankCov  width  |err|")
        for r in rows:
            print(
                f"  {r['games_per_pair']:<4} {r['exact_order']:.2f}"
                f"   {r['exact_order_elo_k32']:.2f}"
                f"      {r['neighbours_separated']:.2f}  {r['all_neighbours_separated']:.2f}"
                f"    {r['wrong_separation']:.3f}  {r['rating_coverage']:.3f}  "
                f"{r['rank_coverage']:.3f}    {r['mean_ci_width']:5.0f}  {r['mean_abs_error']:4.0f}"
            )
        summary = results["two_sided"][label]
        print(
            f"  games per pair for >=80% of tournaments separating all neighbours: "
            f"{summary['games_needed_80pct']}; normal theory, 80% power per neighbour pair: "
            f"{summary['laplace_games_for_80pct_power_per_neighbour']}"
        )
    results["free_for_all_4p"] = [free_for_all(g, args.ffa_tournaments) for g in GAMES]
    for r in results["free_for_all_4p"]:
        print(
            f"  FFA {r['games']:<4} games: exact order by mu {r['exact_order_mu']:.2f}, "
            f"by ordinal {r['exact_order_ordinal']:.2f}"
        )
    results["seconds"] = time.perf_counter() - start
    print(f"{results['seconds']:.1f} s")
    out = Path(__file__).parent / "results" / "ratings_recovery.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
