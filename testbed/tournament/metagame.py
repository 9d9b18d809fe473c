"""Game-theoretic ratings: the meta-game payoff table, α-Rank and Nash averaging, with intervals.

The meta-game of a two-sided tournament is a symmetric two-player game whose pure strategies
are the entrants: the row entrant's payoff is its mean score against the column entrant (win
1, draw 0.5, loss 0; seats pooled), 0.5 on the diagonal. Scores of a pairing add to 1, so
A = M - 1/2 is antisymmetric (a symmetric zero-sum game of value 0).

- **α-Rank** (Omidshafiei et al. 2019), computed by OpenSpiel's `egt.alpharank`: a population
  of `m` players, each playing one entrant, evolves by a mutant entrant r invading a
  population of s with the Fermi fixation probability at selection intensity `alpha`. The
  stationary distribution π says where evolution spends its time: it is unique, and at high
  alpha it concentrates on the entrants no mutant can displace for good (sink components). In
  a cycle (rock beats scissors beats paper beats rock) the members share the mass.
- **Nash averaging** (Balduzzi et al. 2018): the maximum-entropy Nash equilibrium p* of A
  (the mix of entrants that no entrant beats on average; of all such mixes the one spreading
  mass most evenly) and each entrant's rating (A p*)_i, its mean score minus 1/2 against that
  mix: 0 for entrants in the equilibrium's support, negative for entrants the mix beats. A
  copy of an entrant added to the field splits its mass with the original and changes no
  rating, so the field's composition cannot inflate anyone (it does inflate Elo and BT).
  Solved with scipy: a linear program finds an equilibrium, one more per entrant that could
  join its support, then SLSQP maximises entropy over the face of equilibria.
- **Uncertainty**: both are recomputed on `n_bootstrap` resampled payoff tables; each
  pairing's games are resampled from that pairing's own results (`"bootstrap"`, the number of
  games fixed: the schedule is designed, the outcomes are random) or its score is drawn from
  its Jeffreys posterior Beta(points + 1/2, games - points + 1/2) (`"bayesian"`, a draw
  counting half a win). A pairing that ended the same way in every game cannot vary under
  the plain bootstrap, which then reports zero-width intervals; the Bayesian draw still
  says how sure n games can make us. Payoff cells get Jeffreys intervals either way.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import optimize, stats

from testbed.tournament.ratings import CrossPlay

TOL = 1e-9
"""Slack of the equilibrium constraints A p <= 0 (payoffs are in [-1/2, 1/2])."""
SUPPORT = 1e-7
"""Mass below which an entrant counts as outside the equilibrium's support."""

Interval = Literal["bootstrap", "bayesian"]


def _check_antisymmetric(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or len(a) == 0:
        raise ValueError(f"a meta-game payoff must be a non-empty square matrix, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("the meta-game payoff has missing cells (pairs that never met)")
    if np.max(np.abs(a + a.T)) > 1e-6:
        raise ValueError("Nash averaging needs an antisymmetric payoff (A = -A^T)")
    return a


def _solve_lp(a: np.ndarray, objective: np.ndarray) -> np.ndarray:
    """The equilibrium (p in the simplex with A p <= 0) minimising `objective @ p`."""
    n = len(a)
    result = optimize.linprog(
        objective,
        A_ub=a,
        b_ub=np.full(n, TOL),
        A_eq=np.ones((1, n)),
        b_eq=[1.0],
        bounds=[(0.0, None)] * n,
        method="highs",
    )
    if result.status != 0:  # cannot happen for an antisymmetric A: its value is 0
        raise RuntimeError(f"equilibrium linear program failed: {result.message}")
    return np.clip(result.x, 0.0, None)


def max_entropy_nash(antisymmetric: np.ndarray) -> np.ndarray:
    """The maximum-entropy Nash equilibrium of the symmetric zero-sum game A (antisymmetric).

    Equilibria of such a game are the mixes p with A p <= 0 (a convex polytope). One LP finds
    an equilibrium p0; an entrant scoring below 0 against p0 is in no equilibrium's support
    (equilibria of zero-sum games are interchangeable), so only the others need an LP each to
    see whether some equilibrium uses them. The mean of those equilibria is a relative-interior
    start for maximising entropy over the polytope restricted to that support.
    """
    a = _check_antisymmetric(antisymmetric)
    n = len(a)
    if n == 1:
        return np.ones(1)
    first = _solve_lp(a, np.zeros(n))
    found = [first]
    replies = a @ first
    for i in range(n):
        if first[i] <= SUPPORT and replies[i] >= -1e-7:
            candidate = _solve_lp(a, -np.eye(n)[i])
            if candidate[i] > SUPPORT:
                found.append(candidate)
    start = np.mean(found, axis=0)
    support = np.flatnonzero(start > SUPPORT)
    p = np.zeros(n)
    if len(support) == 1:
        p[support] = 1.0
        return p
    sub = a[:, support]

    def negative_entropy(q: np.ndarray) -> tuple[float, np.ndarray]:
        q = np.maximum(q, 1e-300)
        return float(np.sum(q * np.log(q))), np.log(q) + 1.0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SLSQP's "values outside bounds" notices
        result = optimize.minimize(
            negative_entropy,
            start[support],
            jac=True,
            method="SLSQP",
            bounds=[(1e-12, 1.0)] * len(support),
            constraints=[
                {"type": "ineq", "fun": lambda q: TOL - sub @ q, "jac": lambda q: -sub},
                {"type": "eq", "fun": lambda q: np.sum(q) - 1.0, "jac": lambda q: np.ones_like(q)},
            ],
            options={"ftol": 1e-12, "maxiter": 500},
        )
    q = result.x if result.success and np.max(sub @ result.x) <= 1e-6 else start[support]
    p[support] = np.clip(q, 0.0, None)
    p[p < SUPPORT] = 0.0
    return p / p.sum()


def nash_average(antisymmetric: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p*, ratings): the max-entropy Nash mix and each entrant's payoff against it (A p*)."""
    a = _check_antisymmetric(antisymmetric)
    p = max_entropy_nash(a)
    ratings = a @ p
    ratings[np.abs(ratings) < 1e-7] = 0.0
    return p, ratings


def alpha_rank(payoff: np.ndarray, *, m: int = 50, alpha: float = 100.0) -> np.ndarray:
    """α-Rank stationary distribution π of the single-population (symmetric) game `payoff`
    (row's payoff vs column), via OpenSpiel with its default, the local selection model
    off for constant-sum tables (OpenSpiel then uses its closed form)."""
    from open_spiel.python.egt import alpharank  # imports matplotlib and networkx

    payoff = np.asarray(payoff, dtype=float)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        _, _, pi, _, _ = alpharank.compute(
            [payoff], m=m, alpha=alpha, use_local_selection_model=False
        )
    pi = np.clip(np.real(np.asarray(pi, dtype=float)), 0.0, None)
    return pi / pi.sum()


@dataclass(frozen=True)
class MetaGame:
    """Win/draw/loss counts of every pairing (row's view, seats pooled) and the payoff table."""

    entrants: tuple[str, ...]
    wins: np.ndarray
    draws: np.ndarray
    losses: np.ndarray

    @classmethod
    def from_cross_play(cls, cross: CrossPlay) -> MetaGame:
        return cls(
            tuple(cross.entrants),
            cross.wins.astype(float),
            cross.draws.astype(float),
            cross.losses.astype(float),
        )

    @property
    def games(self) -> np.ndarray:
        return self.wins + self.draws + self.losses

    @property
    def points(self) -> np.ndarray:
        """points[i, j]: points of i against j (win 1, draw 0.5)."""
        return self.wins + 0.5 * self.draws

    @property
    def payoff(self) -> np.ndarray:
        """Row's mean score against column; 0.5 on the diagonal, NaN where they never met."""
        with np.errstate(invalid="ignore", divide="ignore"):
            payoff = self.points / self.games
        np.fill_diagonal(payoff, 0.5)
        return payoff

    def _pairs(self) -> list[tuple[int, int]]:
        n = len(self.entrants)
        return [(i, j) for i in range(n) for j in range(i + 1, n)]

    def missing(self) -> list[tuple[str, str]]:
        """Pairs of different entrants that never played each other."""
        return [
            (self.entrants[i], self.entrants[j]) for i, j in self._pairs() if not self.games[i, j]
        ]

    def unanimous(self) -> list[tuple[str, str, float]]:
        """Pairings that ended the same way in every game: (a, b, a's score)."""
        games, payoff = self.games, self.payoff
        return [
            (self.entrants[i], self.entrants[j], float(payoff[i, j]))
            for i, j in self._pairs()
            if games[i, j] and games[i, j] in (self.wins[i, j], self.draws[i, j], self.losses[i, j])
        ]

    def jeffreys(self, confidence: float) -> tuple[np.ndarray, np.ndarray]:
        """Jeffreys interval of every cell's score (a draw as half a win); NaN on the diagonal."""
        alpha = 1.0 - confidence
        points, games = self.points, self.games
        with np.errstate(invalid="ignore"):
            low = stats.beta.ppf(alpha / 2, points + 0.5, games - points + 0.5)
            high = stats.beta.ppf(1 - alpha / 2, points + 0.5, games - points + 0.5)
        low = np.where(points == 0, 0.0, low)
        high = np.where(points == games, 1.0, high)
        np.fill_diagonal(low, np.nan)
        np.fill_diagonal(high, np.nan)
        return low, high

    def resample(self, n: int, how: Interval, rng: np.random.Generator) -> np.ndarray:
        """`n` resampled payoff tables (n, k, k), each pairing on its own (module doc)."""
        k = len(self.entrants)
        upper = np.triu_indices(k, 1)
        games = self.games[upper]
        if how == "bayesian":
            points = self.points[upper]
            scores = rng.beta(points + 0.5, games - points + 0.5, size=(n, len(games)))
        elif how == "bootstrap":
            counts = np.stack([c[upper] for c in (self.wins, self.draws, self.losses)], -1)
            drawn = rng.multinomial(
                games.astype(np.int64), counts / games[:, None], size=(n, len(games))
            )
            scores = (drawn[..., 0] + 0.5 * drawn[..., 1]) / games
        else:
            raise ValueError(f"interval must be 'bootstrap' or 'bayesian', got {how!r}")
        tables = np.full((n, k, k), 0.5)
        tables[:, upper[0], upper[1]] = scores
        tables[:, upper[1], upper[0]] = 1.0 - scores
        return tables


def _ranks(values: np.ndarray, tol: float) -> np.ndarray:
    """1 = best along the last axis; values within `tol` of each other share the better rank."""
    return 1 + (values[..., None, :] > values[..., :, None] + tol).sum(-1)


def _finite(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def game_theory(
    cross: CrossPlay,
    *,
    n_bootstrap: int = 200,
    interval: Interval = "bootstrap",
    confidence: float = 0.95,
    m: int = 50,
    alpha: float = 100.0,
    seed: int = 0,
) -> dict[str, Any]:
    """α-Rank and Nash averaging of a two-sided tournament's cross-play, with intervals.

    Raises ValueError when some pair of entrants never met (the meta-game is incomplete)."""
    game = MetaGame.from_cross_play(cross)
    names = list(game.entrants)
    if len(names) < 2:
        raise ValueError("needs at least two entrants")
    missing = game.missing()
    if missing:
        a, b = missing[0]
        raise ValueError(
            f"{len(missing)} pair(s) of entrants never played each other (e.g. {a} and {b}); "
            "α-Rank and Nash averaging need the full payoff table (a round robin)"
        )
    payoff = game.payoff
    pi = alpha_rank(payoff, m=m, alpha=alpha)
    mass, nash = nash_average(payoff - 0.5)
    low_cell, high_cell = game.jeffreys(confidence)
    q = [(1 - confidence) / 2, 1 - (1 - confidence) / 2]
    intervals: dict[str, Any] = {}
    if n_bootstrap > 0:
        rng = np.random.default_rng(seed)
        tables = game.resample(n_bootstrap, interval, rng)
        boot_pi = np.array([alpha_rank(t, m=m, alpha=alpha) for t in tables])
        boot = [nash_average(t - 0.5) for t in tables]
        boot_mass = np.array([b[0] for b in boot])
        boot_nash = np.array([b[1] for b in boot])
        for key, values, tol in (
            ("alpharank", boot_pi, 1e-9),
            ("nash", boot_nash, 1e-7),
            ("nash_mass", boot_mass, 1e-9),
        ):
            low, high = np.quantile(values, q, axis=0)
            rank_low, rank_high = np.quantile(_ranks(values, tol), q, axis=0, method="inverted_cdf")
            intervals[key] = (low, high, rank_low, rank_high)
        in_support = (boot_mass > SUPPORT).mean(0)
    else:
        in_support = np.full(len(names), np.nan)
    rank_pi, rank_nash = _ranks(pi, 1e-9), _ranks(nash, 1e-7)
    rows = []
    for i, name in enumerate(names):
        row: dict[str, Any] = {
            "entrant": name,
            "alpharank": float(pi[i]),
            "alpharank_rank": int(rank_pi[i]),
            "nash": float(nash[i]),
            "nash_rank": int(rank_nash[i]),
            "nash_mass": float(mass[i]),
            "p_in_nash_support": _finite(in_support[i]),
        }
        for key, (low, high, rank_low, rank_high) in intervals.items():
            row[f"{key}_low"], row[f"{key}_high"] = float(low[i]), float(high[i])
            if key != "nash_mass":
                row[f"{key}_rank_low"] = int(rank_low[i])
                row[f"{key}_rank_high"] = int(rank_high[i])
        rows.append(row)
    return {
        "entrants": names,
        "payoff": _matrix(payoff),
        "payoff_low": _matrix(low_cell),
        "payoff_high": _matrix(high_cell),
        "games": game.games.astype(int).tolist(),
        "ratings": rows,
        "alpharank_m": m,
        "alpharank_alpha": alpha,
        "n_bootstrap": n_bootstrap,
        "interval": interval,
        "confidence": confidence,
    }


def _matrix(values: np.ndarray) -> list[list[float | None]]:
    return [[_finite(v) for v in row] for row in values]


def choose_interval(table: CrossPlay | None, wanted: str) -> tuple[str, str | None]:
    """(`bootstrap` or `bayesian`, a note saying why) for `ratings.interval` (see RatingOptions)."""
    same = MetaGame.from_cross_play(table).unanimous() if table is not None else []
    if not same:
        return ("bayesian" if wanted == "bayesian" else "bootstrap"), None
    a, b, score = same[0]
    example = f"{a} scored {score:.1f} against {b} in all {_games(table, a, b)} games"
    what = f"{len(same)} pairing(s) ended the same way in every game (e.g. {example})"
    if wanted == "bootstrap":
        return "bootstrap", (
            f"{what}: resampling games cannot vary them, so these intervals are too narrow "
            "(zero width where such pairings decide); `ratings: {interval: bayesian}` widens them"
        )
    return "bayesian", (
        f"{what}: resampling games cannot vary them and would give zero-width intervals, so "
        "intervals draw each pairing's outcome rates from their Jeffreys posterior (Bayesian "
        "bootstrap: a 10-0 pairing's win rate still ranges over about [0.78, 1])"
    )


def _games(table: CrossPlay, a: str, b: str) -> int:
    names = list(table.entrants)
    return int(table.games[names.index(a), names.index(b)])
