"""Tournament ratings: match records, cross-play tables, Elo and Weng–Lin (OpenSkill) skills.

Which tool answers which question:

- `cross_play`: what happened. Wins, draws and losses of every entrant against every other,
  and the mean score of row vs column (win 1, draw 0.5, loss 0), seats pooled.
- `elo`: the familiar sequential number (K-factor, start 1500). It depends on the order the
  matches are applied in and carries no uncertainty; show it, do not conclude from it.
- `testbed.bradley_terry.bradley_terry`: the number to quote for two-sided games. One batch fit
  of all matches (order-free) with draws modelled, on the Elo scale, with bootstrap intervals on
  every rating and every rank and P(A better than B) for every pair.
- `openskill_ratings`: more than two sides per match (free-for-all, team games). Bayesian
  Weng–Lin skills (mu, sigma) and the conservative ordinal mu - 3 sigma.

A match is a `MatchResult`: the entrant in each seat, in seat order, and each seat's score
(higher is better, equal scores tie). Two-sided tables and fits read each match from both
entrants' perspectives, so seats may be swapped freely between matches. A mirror match (an
entrant against itself) says nothing about differences between entrants and is skipped by the
pairwise tools.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

WIN, DRAW, LOSS = 1.0, 0.5, 0.0
_OUTCOMES = {"win": WIN, "draw": DRAW, "loss": LOSS}


@dataclass(frozen=True)
class MatchResult:
    """One finished match: the entrant in each seat (seat order) and each seat's score."""

    entrants: tuple[str, ...]
    """Entrant id per side, in seat order (index 0 is seat 0, e.g. the first mover)."""
    scores: tuple[float, ...]
    """Score per side, higher is better; equal scores tie (returns, points, or minus the place)."""

    def __post_init__(self) -> None:
        entrants = tuple(str(e) for e in self.entrants)
        scores = tuple(float(s) for s in self.scores)
        if len(entrants) < 2:
            raise ValueError(f"a match needs at least two sides, got {entrants}")
        if len(scores) != len(entrants):
            raise ValueError(f"{len(entrants)} entrants but {len(scores)} scores")
        if not all(math.isfinite(s) for s in scores):
            raise ValueError(f"scores must be finite, got {scores}")
        object.__setattr__(self, "entrants", entrants)
        object.__setattr__(self, "scores", scores)

    @classmethod
    def from_outcome(cls, first: str, second: str, outcome: str | float) -> MatchResult:
        """A two-seat match; `outcome` is from `first`'s view: "win"/"draw"/"loss" or 1/0.5/0."""
        value = _OUTCOMES.get(outcome) if isinstance(outcome, str) else float(outcome)
        if value not in (WIN, DRAW, LOSS):
            raise ValueError(f"outcome must be win/draw/loss or 1/0.5/0, got {outcome!r}")
        return cls((first, second), (value, 1.0 - value))

    @classmethod
    def from_places(cls, entrants: Sequence[str], places: Sequence[float]) -> MatchResult:
        """A free-for-all finishing order: place 1 won; equal places tie."""
        return cls(tuple(entrants), tuple(-float(p) for p in places))

    def point(self, i: int, j: int) -> float:
        """Points of side i against side j: 1 if it scored more, 0.5 if equal, 0 if less."""
        a, b = self.scores[i], self.scores[j]
        return WIN if a > b else DRAW if a == b else LOSS


def entrant_order(
    matches: Iterable[MatchResult], entrants: Sequence[str] | None = None
) -> list[str]:
    """`entrants` if given (checked to cover every match), else ids in order of first appearance."""
    seen = dict.fromkeys(e for m in matches for e in m.entrants)
    if entrants is None:
        return list(seen)
    names = list(entrants)
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate entrant ids in {names}")
    missing = [e for e in seen if e not in set(names)]
    if missing:
        raise ValueError(f"matches name entrants not in the entrant list: {missing}")
    return names


@dataclass(frozen=True)
class CrossPlay:
    """Win/draw/loss counts of row entrant against column entrant, seats pooled."""

    entrants: tuple[str, ...]
    wins: np.ndarray
    """wins[i, j]: times entrant i beat entrant j (an n x n int array)."""
    draws: np.ndarray
    losses: np.ndarray

    @property
    def games(self) -> np.ndarray:
        return self.wins + self.draws + self.losses

    @property
    def payoff(self) -> np.ndarray:
        """Mean score of row vs column (win 1, draw 0.5, loss 0); NaN where they never met."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.wins + 0.5 * self.draws) / self.games

    def to_dict(self) -> dict[str, Any]:
        payoff = self.payoff
        table: dict[str, dict[str, Any]] = {}
        for i, a in enumerate(self.entrants):
            table[a] = {
                b: {
                    "wins": int(self.wins[i, j]),
                    "draws": int(self.draws[i, j]),
                    "losses": int(self.losses[i, j]),
                    "score": None if math.isnan(payoff[i, j]) else float(payoff[i, j]),
                }
                for j, b in enumerate(self.entrants)
                if i != j and self.games[i, j] > 0
            }
        return {"entrants": list(self.entrants), "table": table}


def cross_play(matches: Iterable[MatchResult], entrants: Sequence[str] | None = None) -> CrossPlay:
    """Cross-play win/draw/loss table and payoff matrix.

    A match with more than two sides counts once for every pair of sides in it (who finished
    ahead of whom): descriptive only, the pairs of one match are not independent games.
    """
    matches = list(matches)
    names = entrant_order(matches, entrants)
    index = {e: i for i, e in enumerate(names)}
    n = len(names)
    wins, draws = np.zeros((n, n), dtype=np.int64), np.zeros((n, n), dtype=np.int64)
    for match in matches:
        sides = [index[e] for e in match.entrants]
        for i in range(len(sides)):
            for j in range(i + 1, len(sides)):
                a, b = sides[i], sides[j]
                if a == b:
                    continue
                point = match.point(i, j)
                if point == WIN:
                    wins[a, b] += 1
                elif point == LOSS:
                    wins[b, a] += 1
                else:
                    draws[a, b] += 1
                    draws[b, a] += 1
    return CrossPlay(tuple(names), wins, draws, wins.T.copy())


def elo_expected(rating: float, opponent: float) -> float:
    """Elo's expected score of `rating` against `opponent`: 1 / (1 + 10^((opp - r) / 400))."""
    return 1.0 / (1.0 + 10.0 ** ((opponent - rating) / 400.0))


def elo(
    matches: Iterable[MatchResult],
    *,
    k: float = 32.0,
    initial: float = 1500.0,
    entrants: Sequence[str] | None = None,
) -> dict[str, float]:
    """Sequential Elo ratings after applying two-sided `matches` in the order given.

    Each match moves both entrants by k * (points - expected), so the sum of ratings is
    preserved; the result depends on the order of the matches. Entrants listed in `entrants`
    but never seen keep `initial`.
    """
    matches = list(matches)
    ratings = dict.fromkeys(entrant_order(matches, entrants), float(initial))
    for match in matches:
        if len(match.entrants) != 2:
            raise ValueError(
                f"elo rates two-sided matches; got {len(match.entrants)} sides "
                f"({match.entrants}); use openskill_ratings for free-for-all"
            )
        a, b = match.entrants
        if a == b:
            continue
        change = k * (match.point(0, 1) - elo_expected(ratings[a], ratings[b]))
        ratings[a] += change
        ratings[b] -= change
    return ratings


@dataclass(frozen=True)
class Skill:
    """A Weng–Lin skill estimate: Gaussian belief N(mu, sigma^2)."""

    entrant: str
    mu: float
    sigma: float
    ordinal: float
    """Conservative skill mu - z * sigma (z = 3 by default): ranks entrants we are sure of."""
    matches: int


_OPENSKILL_MODELS = {
    "plackett_luce": "PlackettLuce",
    "bradley_terry_full": "BradleyTerryFull",
    "bradley_terry_part": "BradleyTerryPart",
    "thurstone_mosteller_full": "ThurstoneMostellerFull",
    "thurstone_mosteller_part": "ThurstoneMostellerPart",
}


def openskill_ratings(
    matches: Iterable[MatchResult],
    *,
    model: str = "plackett_luce",
    members: Mapping[str, Sequence[str]] | None = None,
    mu: float = 25.0,
    sigma: float = 25.0 / 3.0,
    tau: float = 0.0,
    z: float = 3.0,
) -> list[Skill]:
    """Weng–Lin (2011) Bayesian skills from free-for-all or team matches, best ordinal first.

    Uses the `openskill` library (default model Plackett–Luce, which fits finishing orders of
    any number of sides). Matches are applied in the order given (the update is sequential and
    approximate, so order matters a little). Each side's score ranks it; equal scores tie.

    `members` maps a side's entrant id to the individually rated players forming it (e.g.
    "a+b": ("a", "b")); skills are then returned per player. Without it each side is one rated
    entrant. `tau` is the per-match drift added to sigma: 0 (default) suits fixed agents whose
    skill does not change; openskill's own default (25/300) suits learning or human players.
    """
    from openskill import models  # imported here: not needed by other rating tools

    if model not in _OPENSKILL_MODELS:
        raise ValueError(f"unknown openskill model {model!r}; one of {sorted(_OPENSKILL_MODELS)}")
    rater = getattr(models, _OPENSKILL_MODELS[model])(mu=mu, sigma=sigma, tau=tau)
    members = dict(members or {})
    players: dict[str, Any] = {}
    played: dict[str, int] = {}
    for match in matches:
        sides = [tuple(members.get(e, (e,))) for e in match.entrants]
        flat = [p for side in sides for p in side]
        if len(set(flat)) != len(flat):
            raise ValueError(f"a player appears twice in one match: {match.entrants}")
        for player in flat:
            if player not in players:
                players[player] = rater.rating(name=player)
                played[player] = 0
            played[player] += 1
        teams = [[players[p] for p in side] for side in sides]
        ranks = [-s for s in match.scores]
        updated = rater.rate(teams, ranks=ranks)
        for side, team in zip(sides, updated, strict=True):
            for player, rating in zip(side, team, strict=True):
                players[player] = rating
    skills = [
        Skill(name, float(r.mu), float(r.sigma), float(r.mu - z * r.sigma), played[name])
        for name, r in players.items()
    ]
    return sorted(skills, key=lambda s: s.ordinal, reverse=True)
