"""Bradley–Terry ratings with draws (Davidson 1970): one batch fit, bootstrap intervals.

Model. Entrant i has strength theta_i (natural-log units). In a match of f (seat 0) against s
(seat 1), with x = theta_f - theta_s + h (h: optional first-seat advantage) and nu = e^eta:

    P(f wins) = e^(x/2) / Z,   P(draw) = nu / Z,   P(s wins) = e^(-x/2) / Z,
    Z = e^(x/2) + e^(-x/2) + nu.

This is Davidson's (1970) extension of Bradley–Terry; with nu = 0 (no draws in the data) it is
Bradley–Terry exactly. Ratings are reported on the Elo scale, 400 * log10 of the win:loss odds
(rating = anchor + 400 / ln 10 * theta), centred so their mean is 1500, or so that a named anchor
entrant has a given rating.

Why Davidson rather than "a draw is half a win" (`draw_model="half"`, also offered):
- It is a likelihood for the three outcomes that happen, so the fit predicts draw rates
  (`predict`) and its Laplace errors see that a draw is less noisy than a coin flip.
- A rating gap keeps one meaning whatever the game's draw rate: P(win) / P(loss) = 10^(gap/400).
  The fitted nu says how drawish the game is (nu / (2 + nu) of games between equals are drawn).
- Its estimating equations still match each entrant's points (win 1, draw 0.5) to its
  expected points, as Elo does.
The price: when draws are common, a Davidson gap is wider than an Elo gap for the same score
(at nu = 1, 1.5x for small gaps), so compare it with `elo` numbers only via `predict`.
`draw_model="half"` fits Bradley–Terry to points (a draw = half a win and half a loss); its gaps
are on Elo's expected-score scale.

Prior. Each theta_i has an independent N(0, (prior_sd / (400 / ln 10))^2) prior, i.e. prior_sd
Elo points (default 400); we report the posterior mode. The prior keeps ratings finite when an
entrant wins (or loses) every game and fixes the otherwise free offset; it shrinks gaps by
about 1% once each entrant has ~100 games (4 entrants, 30 games per pair), ~4% at 30 games.
eta has an N(0, 2^2) prior (nu between e^-4 and e^4 at two sd), h the same prior as a rating.
The log-posterior is concave; it is maximised by Newton steps with a backtracking line search.

Uncertainty. Bootstrap (percentile intervals; `n_bootstrap` replicates, seeded):
`resample="pairing"` (default) redraws each pairing's games (per seat order) from that
pairing's own results, keeping the number of games per pairing fixed: the schedule of a
tournament is designed, only the outcomes are random. `resample="match"` redraws matches from
the whole list, for schedules that were themselves random (e.g. random matchmaking). For each
replicate all entrants are refitted at once (the Newton steps are batched over replicates) and
ranked; we report the percentile interval of each rating and of each rank, and
P(A better than B) = share of replicates in which A's rating beats B's. `separated(a, b)` when
that share is outside [alpha/2, 1 - alpha/2]. A pairing that one side always won has no
variation to resample, so intervals of undefeated entrants are too narrow with few games;
`resample="bayesian"` instead draws each cell's outcome rates from their Jeffreys posterior,
Dirichlet(counts + 1/2) over the outcomes seen in the data (win and loss, and draw when there
are draws), and refits to the expected counts: a 10-0 pairing then still varies (its win rate
ranges over about [0.78, 1]), while with many games it matches the plain bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from testbed.tournament.ratings import DRAW, WIN, MatchResult, entrant_order

ELO_PER_NAT = 400.0 / math.log(10.0)
DRAW_PRIOR_SD = 2.0


def _finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass(frozen=True)
class Rating:
    """One entrant's Bradley–Terry rating (Elo scale) with bootstrap intervals."""

    entrant: str
    rating: float
    ci_low: float
    ci_high: float
    se: float
    """Standard error from the curvature of the log-posterior (Laplace), for comparison."""
    rank: int
    """1 = best; entrants with equal ratings share the better rank."""
    rank_low: int
    """Best rank within the rank interval (a number <= rank_high)."""
    rank_high: int
    games: int
    score: float
    """Mean points per game (win 1, draw 0.5, loss 0)."""


@dataclass(frozen=True)
class BradleyTerryResult:
    """Ratings best first, pairwise P(row better than column) and the fitted draw/seat terms."""

    ratings: tuple[Rating, ...]
    prob_better: np.ndarray
    """prob_better[i, j]: share of bootstrap replicates rating ratings[i] above ratings[j]."""
    draw_nu: float
    """Davidson's nu (0 without draws): nu / (2 + nu) of games between equals are drawn."""
    seat_advantage: float | None
    """Elo points a seat-0 entrant gains (None unless fitted)."""
    seat_advantage_ci: tuple[float, float] | None
    confidence: float
    n_bootstrap: int
    resample: str
    draw_model: str
    prior_sd: float

    @property
    def entrants(self) -> tuple[str, ...]:
        return tuple(r.entrant for r in self.ratings)

    def __getitem__(self, entrant: str) -> Rating:
        return self.ratings[self.entrants.index(entrant)]

    def p_better(self, a: str, b: str) -> float:
        """Share of bootstrap replicates in which `a` is rated above `b` (ties count half)."""
        names = self.entrants
        return float(self.prob_better[names.index(a), names.index(b)])

    def separated(self, a: str, b: str) -> bool:
        """Whether the bootstrap separates a from b at the result's confidence level."""
        p = self.p_better(a, b)
        alpha = 1.0 - self.confidence
        return p >= 1.0 - alpha / 2 or p <= alpha / 2

    def predict(self, a: str, b: str) -> tuple[float, float, float]:
        """Model P(a wins), P(draw), P(b wins) with a in seat 0 (seat advantage if fitted)."""
        x = (self[a].rating - self[b].rating + (self.seat_advantage or 0.0)) / ELO_PER_NAT
        z = math.exp(x / 2) + math.exp(-x / 2) + self.draw_nu
        return math.exp(x / 2) / z, self.draw_nu / z, math.exp(-x / 2) / z

    def to_dict(self) -> dict[str, Any]:
        names = self.entrants
        return {
            "ratings": [
                {k: _finite_or_none(v) if isinstance(v, float) else v for k, v in vars(r).items()}
                for r in self.ratings
            ],
            "prob_better": {
                a: {
                    b: _finite_or_none(self.prob_better[i, j])
                    for j, b in enumerate(names)
                    if j != i
                }
                for i, a in enumerate(names)
            },
            "neighbours_separated": [
                self.separated(a, b) for a, b in zip(names, names[1:], strict=False)
            ],
            "draw_nu": self.draw_nu,
            "seat_advantage": self.seat_advantage,
            "seat_advantage_ci": self.seat_advantage_ci,
            "confidence": self.confidence,
            "n_bootstrap": self.n_bootstrap,
            "resample": self.resample,
            "draw_model": self.draw_model,
            "prior_sd": self.prior_sd,
        }


@dataclass(frozen=True)
class _Design:
    """Games grouped by (seat-0 entrant, seat-1 entrant): counts of f-wins, draws, s-wins."""

    names: list[str]
    first: np.ndarray
    second: np.ndarray
    counts: np.ndarray  # (K, 3)


def _design(matches: Iterable[MatchResult], entrants: Sequence[str] | None) -> _Design:
    matches = list(matches)
    names = entrant_order(matches, entrants)
    index = {e: i for i, e in enumerate(names)}
    cells: dict[tuple[int, int], list[int]] = {}
    for match in matches:
        if len(match.entrants) != 2:
            raise ValueError(
                f"Bradley–Terry rates two-sided matches; got {len(match.entrants)} sides "
                f"({match.entrants}); use testbed.tournament.ratings.openskill_ratings "
                "for free-for-all"
            )
        f, s = index[match.entrants[0]], index[match.entrants[1]]
        if f == s:
            continue
        point = match.point(0, 1)
        cells.setdefault((f, s), [0, 0, 0])[0 if point == WIN else 1 if point == DRAW else 2] += 1
    if not cells:
        raise ValueError("no two-sided match between different entrants to rate")
    pairs = np.array(list(cells), dtype=np.int64)
    design = _Design(names, pairs[:, 0], pairs[:, 1], np.array(list(cells.values()), float))
    _check_connected(design)
    return design


def _check_connected(design: _Design) -> None:
    parent = list(range(len(design.names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for f, s in zip(design.first, design.second, strict=True):
        parent[root(int(f))] = root(int(s))
    groups: dict[int, list[str]] = {}
    for i, name in enumerate(design.names):
        groups.setdefault(root(i), []).append(name)
    if len(groups) > 1:
        raise ValueError(
            "entrants fall into groups that never played each other, so their ratings are not "
            f"comparable: {list(groups.values())}"
        )


class _Posterior:
    """Negative log-posterior of the Davidson model, batched over B count tables."""

    def __init__(self, design: _Design, prior_sd: float, use_draws: bool, use_seat: bool) -> None:
        self.n = len(design.names)
        self.first, self.second = design.first, design.second
        self.use_draws, self.use_seat = use_draws, use_seat
        self.size = self.n + int(use_draws) + int(use_seat)
        incidence = np.zeros((len(self.first), self.n))
        incidence[np.arange(len(self.first)), self.first] += 1.0
        incidence[np.arange(len(self.first)), self.second] -= 1.0
        self.incidence = incidence
        self.prior_precision = np.full(self.size, (ELO_PER_NAT / prior_sd) ** 2)
        if use_draws:
            self.prior_precision[self.n] = 1.0 / DRAW_PRIOR_SD**2

    def _split(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        theta = params[:, : self.n]
        eta = params[:, self.n] if self.use_draws else np.full(len(params), -np.inf)
        h = params[:, -1] if self.use_seat else np.zeros(len(params))
        return theta, eta, h

    def _terms(self, params: np.ndarray) -> tuple[np.ndarray, ...]:
        theta, eta, h = self._split(params)
        x = theta[:, self.first] - theta[:, self.second] + h[:, None]
        log_z = np.logaddexp(np.logaddexp(x / 2, -x / 2), eta[:, None])
        return x, eta, log_z

    def value(self, params: np.ndarray, counts: np.ndarray) -> np.ndarray:
        x, eta, log_z = self._terms(params)
        wins, draws, losses = counts[..., 0], counts[..., 1], counts[..., 2]
        loglik = ((wins - losses) * x / 2 - (wins + draws + losses) * log_z).sum(-1)
        if self.use_draws:
            loglik += draws.sum(-1) * eta
        return -loglik + 0.5 * (self.prior_precision * params**2).sum(-1)

    def gradient_hessian(
        self, params: np.ndarray, counts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        x, eta, log_z = self._terms(params)
        wins, draws, losses = counts[..., 0], counts[..., 1], counts[..., 2]
        games = wins + draws + losses
        p_win, p_loss = np.exp(x / 2 - log_z), np.exp(-x / 2 - log_z)
        p_draw = np.exp(eta[:, None] - log_z)
        grad_x = -((wins - losses) - games * (p_win - p_loss)) / 2
        curv_x = games / 4 * ((p_win + p_loss) - (p_win - p_loss) ** 2)

        n, batch = self.n, len(params)
        grad = np.empty((batch, self.size))
        hess = np.zeros((batch, self.size, self.size))
        grad[:, :n] = grad_x @ self.incidence
        pair = np.zeros((batch, n, n))
        pair[:, self.first, self.second] = curv_x
        pair = pair + pair.transpose(0, 2, 1)
        hess[:, :n, :n] = -pair
        diagonal = np.arange(n)
        hess[:, diagonal, diagonal] = pair.sum(-1)
        if self.use_draws:
            e = n
            grad[:, e] = -(draws - games * p_draw).sum(-1)
            cross = -games * (p_win - p_loss) * p_draw / 2
            hess[:, :n, e] = hess[:, e, :n] = cross @ self.incidence
            hess[:, e, e] = (games * p_draw * (1 - p_draw)).sum(-1)
        if self.use_seat:
            s = self.size - 1
            grad[:, s] = grad_x.sum(-1)
            hess[:, :n, s] = hess[:, s, :n] = curv_x @ self.incidence
            hess[:, s, s] = curv_x.sum(-1)
            if self.use_draws:
                hess[:, n, s] = hess[:, s, n] = cross.sum(-1)
        grad += self.prior_precision * params
        hess[:, np.arange(self.size), np.arange(self.size)] += self.prior_precision
        return grad, hess

    def fit(self, counts: np.ndarray, tol: float = 1e-9, max_iter: int = 100) -> np.ndarray:
        """Posterior modes for a batch of count tables (B, K, 3): damped Newton, line search."""
        params = np.zeros((len(counts), self.size))
        if self.use_draws:
            share = np.clip(counts[..., 1].sum(-1) / counts.sum((-1, -2)), 0.01, 0.99)
            params[:, self.n] = np.log(2 * share / (1 - share))
        value = self.value(params, counts)
        for _ in range(max_iter):
            grad, hess = self.gradient_hessian(params, counts)
            step = np.linalg.solve(hess, grad[..., None])[..., 0]
            slope = (grad * step).sum(-1)
            t = np.ones(len(params))
            for _ in range(40):
                trial = params - t[:, None] * step
                trial_value = self.value(trial, counts)
                worse = trial_value > value - 1e-4 * t * slope + 1e-12 * np.abs(value)
                if not worse.any():
                    break
                t = np.where(worse, t / 2, t)
            params, value = trial, trial_value
            if np.max(np.abs(t[:, None] * step)) < tol:
                break
        return params


def _to_elo(theta: np.ndarray, anchor: int | None, anchor_rating: float) -> np.ndarray:
    offset = theta[..., anchor] if anchor is not None else theta.mean(-1)
    return anchor_rating + ELO_PER_NAT * (theta - offset[..., None])


def _resample(
    counts: np.ndarray, n_bootstrap: int, how: str, rng: np.random.Generator, draws: bool
) -> np.ndarray:
    if how == "bayesian":  # outcome rates from each cell's Jeffreys Dirichlet posterior
        kinds = [0, 1, 2] if draws else [0, 2]
        out = np.zeros((n_bootstrap, *counts.shape))
        for cell, row in enumerate(counts):
            rates = rng.dirichlet(row[kinds] + 0.5, size=n_bootstrap)
            out[:, cell, kinds] = row.sum() * rates
        return out
    if how == "pairing":
        games = counts.sum(-1).astype(np.int64)
        return rng.multinomial(games, counts / games[:, None], size=(n_bootstrap, len(counts)))
    flat = counts.ravel()
    draws = rng.multinomial(int(flat.sum()), flat / flat.sum(), size=n_bootstrap)
    return draws.reshape(n_bootstrap, *counts.shape)


def bradley_terry(
    matches: Iterable[MatchResult],
    *,
    entrants: Sequence[str] | None = None,
    draw_model: Literal["davidson", "half"] = "davidson",
    seat_advantage: bool = False,
    prior_sd: float = 400.0,
    anchor: str | None = None,
    anchor_rating: float = 1500.0,
    n_bootstrap: int = 1000,
    resample: Literal["pairing", "match", "bayesian"] = "pairing",
    confidence: float = 0.95,
    seed: int = 0,
) -> BradleyTerryResult:
    """Fit Bradley–Terry–Davidson ratings to two-sided matches, with bootstrap intervals.

    `seat_advantage` also fits the Elo points seat 0 is worth (e.g. the first move); without
    it, play each pairing in both seat orders equally often. `anchor` names the entrant held
    at `anchor_rating`; by default the mean rating is `anchor_rating`. `n_bootstrap=0` skips
    the bootstrap (intervals and P(better) then NaN, rank intervals the point rank). See the
    module docstring for the model, the prior and the bootstrap.
    """
    if draw_model not in ("davidson", "half"):
        raise ValueError(f"draw_model must be 'davidson' or 'half', got {draw_model!r}")
    if resample not in ("pairing", "match", "bayesian"):
        raise ValueError(f"resample must be 'pairing', 'match' or 'bayesian', got {resample!r}")
    if not (prior_sd > 0 and math.isfinite(prior_sd)):
        raise ValueError(f"prior_sd must be a positive finite number of Elo points: {prior_sd}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    design = _design(matches, entrants)
    names = design.names
    anchor_index = None
    if anchor is not None:
        if anchor not in names:
            raise ValueError(f"anchor {anchor!r} is not an entrant: {names}")
        anchor_index = names.index(anchor)
    use_draws = draw_model == "davidson" and design.counts[:, 1].sum() > 0
    model = _Posterior(design, prior_sd, use_draws, seat_advantage)

    def prepare(counts: np.ndarray) -> np.ndarray:
        if draw_model == "davidson":
            return counts
        half = counts[..., 1:2] / 2
        return np.concatenate([counts[..., :1] + half, 0 * half, counts[..., 2:] + half], -1)

    point = model.fit(prepare(design.counts)[None])
    _, hess = model.gradient_hessian(point, prepare(design.counts)[None])
    theta = point[0, : model.n]
    ratings = _to_elo(theta, anchor_index, anchor_rating)
    covariance = np.linalg.inv(hess[0])[: model.n, : model.n]
    contrast = np.eye(model.n) - (
        np.eye(model.n)[anchor_index] if anchor_index is not None else 1.0 / model.n
    )
    se = ELO_PER_NAT * np.sqrt(np.maximum(np.diag(contrast @ covariance @ contrast.T), 0.0))
    ranks = 1 + (ratings[None, :] > ratings[:, None]).sum(-1)
    seat = ELO_PER_NAT * point[0, -1] if seat_advantage else None

    alpha = 1.0 - confidence
    nan = np.full(model.n, np.nan)
    low, high, rank_low, rank_high, seat_ci = nan, nan, ranks, ranks, None
    prob_better = np.full((model.n, model.n), np.nan)
    np.fill_diagonal(prob_better, 0.5)
    if n_bootstrap > 0:
        rng = np.random.default_rng(seed)
        boot_counts = prepare(
            _resample(
                design.counts, n_bootstrap, resample, rng, bool(design.counts[:, 1].sum())
            ).astype(float)
        )
        boot = model.fit(boot_counts)
        boot_ratings = _to_elo(boot[:, : model.n], anchor_index, anchor_rating)
        low, high = np.quantile(boot_ratings, [alpha / 2, 1 - alpha / 2], axis=0)
        above = boot_ratings[:, :, None] > boot_ratings[:, None, :]
        tied = boot_ratings[:, :, None] == boot_ratings[:, None, :]
        prob_better = above.mean(0) + 0.5 * tied.mean(0)
        boot_ranks = 1 + above.sum(1)
        rank_low, rank_high = np.quantile(
            boot_ranks, [alpha / 2, 1 - alpha / 2], axis=0, method="inverted_cdf"
        )
        if seat_advantage:
            seat_ci = tuple(
                float(v) for v in ELO_PER_NAT * np.quantile(boot[:, -1], [alpha / 2, 1 - alpha / 2])
            )

    games_played = np.zeros(model.n)
    points = np.zeros(model.n)
    wins, draws, losses = design.counts.T
    np.add.at(games_played, design.first, wins + draws + losses)
    np.add.at(games_played, design.second, wins + draws + losses)
    np.add.at(points, design.first, wins + draws / 2)
    np.add.at(points, design.second, losses + draws / 2)
    order = np.argsort(-ratings, kind="stable")
    table = tuple(
        Rating(
            entrant=names[i],
            rating=float(ratings[i]),
            ci_low=float(low[i]),
            ci_high=float(high[i]),
            se=float(se[i]),
            rank=int(ranks[i]),
            rank_low=int(rank_low[i]),
            rank_high=int(rank_high[i]),
            games=int(games_played[i]),
            score=float(points[i] / games_played[i]),
        )
        for i in order
    )
    nu = float(np.exp(point[0, model.n])) if use_draws else 0.0
    return BradleyTerryResult(
        ratings=table,
        prob_better=prob_better[np.ix_(order, order)],
        draw_nu=nu,
        seat_advantage=None if seat is None else float(seat),
        seat_advantage_ci=seat_ci,
        confidence=confidence,
        n_bootstrap=n_bootstrap,
        resample=resample,
        draw_model=draw_model,
        prior_sd=prior_sd,
    )


def simulate_round_robin(
    ratings: Mapping[str, float],
    games_per_pair: int,
    *,
    draw_nu: float = 0.0,
    seat_advantage: float = 0.0,
    seed: int = 0,
) -> list[MatchResult]:
    """Matches drawn from this module's model: `games_per_pair` rounds of a round robin.

    `ratings` are Elo-scale strengths. Round g has every pair play once, the pair's first-listed
    entrant in seat 0 in even rounds and in seat 1 in odd ones. For tests, benchmarks and
    planning how many games a tournament needs.
    """
    rng = np.random.default_rng(seed)
    names = list(ratings)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    swapped = np.arange(games_per_pair) % 2 == 1
    outcomes = np.empty((len(pairs), games_per_pair), dtype=np.int64)
    for k, (a, b) in enumerate(pairs):
        for flip in (False, True):
            f, s = (b, a) if flip else (a, b)
            x = (ratings[f] - ratings[s] + seat_advantage) / ELO_PER_NAT
            weights = np.array([math.exp(x / 2), draw_nu, math.exp(-x / 2)])
            games = swapped == flip
            outcomes[k, games] = rng.choice(3, size=int(games.sum()), p=weights / weights.sum())
    points = (WIN, DRAW, 0.0)
    return [
        MatchResult.from_outcome(*((b, a) if swapped[g] else (a, b)), points[outcomes[k, g]])
        for g in range(games_per_pair)
        for k, (a, b) in enumerate(pairs)
    ]
