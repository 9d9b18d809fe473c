"""The schema of `kind: tournament`: entrants, format, sides, scoring and rating options."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from testbed.scenario.models import (
    AgentRef,
    Comparison,
    Count,
    EntrantRef,
    Loc,
    NonNegativeCount,
    Number,
    PositiveNumber,
    StageModel,
    Strict,
)


class RatingOptions(Strict):
    """How ratings are computed from the games."""

    bootstrap: NonNegativeCount = 1000
    """Bootstrap replicates of the Bradley–Terry fit (0 = no intervals)."""
    confidence: Number = Field(default=0.95, gt=0.5, lt=1)
    elo_k: PositiveNumber = 32.0
    interval: Literal["auto", "bootstrap", "bayesian"] = "auto"
    """How games are resampled for intervals: `bootstrap` redraws each pairing's games from
    its results; `bayesian` draws its outcome rates from their Jeffreys posterior; `auto`
    (default) bootstraps unless some pairing ended the same way in every game, which the
    bootstrap cannot vary (it would report zero-width intervals), and then goes Bayesian."""
    game_theory: bool = True
    """Also rate by α-Rank and Nash averaging (two-sided games, every pair met)."""
    game_theory_bootstrap: NonNegativeCount = 200
    """Resampled payoff tables for the α-Rank and Nash intervals (0 = none)."""
    alpharank_m: Count = Field(default=50, ge=2)
    """α-Rank population size."""
    alpharank_alpha: PositiveNumber = 100.0
    """α-Rank selection intensity (payoffs are scores in [0, 1]; high = strong selection)."""


class TournamentExpectations(Strict):
    rank: dict[str, Comparison] = Field(default_factory=dict)


class TournamentStage(StageModel):
    """`kind: tournament`: entrants play each other; ratings, cross-play and a leaderboard."""

    kind: Literal["tournament"]
    entrants: dict[str, EntrantRef] = Field(min_length=2)
    format: Literal["round_robin", "gauntlet", "free_for_all"] = "round_robin"
    reference: list[str] = Field(default_factory=list)
    """Gauntlet: the fixed field every other entrant (a challenger) plays."""
    sides: dict[str, list[str]] | None = None
    """Side name -> agent-name patterns; default: every env agent is its own side."""
    scoring: Literal["game", "match"] = "game"
    """`game`: every game is rated (side returns compared). `match`: the games of one pairing
    and seed (all seat rotations) are summed first, duplicate-bridge style, for asymmetric
    sides such as predators vs prey."""
    rounds: Count = 10
    """Fresh chance seeds per pairing; each round plays every seat rotation on that seed."""
    move_timeout: PositiveNumber | None = None
    """Seconds an entrant may take for one move before it forfeits the game."""
    leaderboard: str | None = None
    """Leaderboard name in the database; default `<scenario name>/<stage name>`."""
    db: str | None = None
    """SQLite file; default `runs/leaderboard.sqlite` (the CLI's --db overrides)."""
    ratings: RatingOptions = Field(default_factory=RatingOptions)
    expect: TournamentExpectations | None = None
    """Claims the pytest plugin checks: `rank: {entrant: "<= 2"}` (its bootstrap rank interval)."""

    def agent_refs(self) -> list[tuple[Loc, AgentRef]]:
        return [ref for n, e in self.entrants.items() for ref in e.refs(("entrants", n))]

    @model_validator(mode="before")
    @classmethod
    def _sides_as_lists(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("sides"), dict):
            sides = {k: [v] if isinstance(v, str) else v for k, v in value["sides"].items()}
            return {**value, "sides": sides}
        return value

    @model_validator(mode="after")
    def _reference_known(self) -> TournamentStage:
        unknown = [r for r in self.reference if r not in self.entrants]
        if unknown:
            raise ValueError(f"reference entrant {unknown[0]!r} is not among the entrants")
        if self.format == "gauntlet":
            if not self.reference:
                raise ValueError("a gauntlet needs `reference:` (the fixed field)")
            if len(self.reference) == len(self.entrants):
                raise ValueError("a gauntlet needs at least one challenger outside `reference`")
        elif self.reference:
            raise ValueError("`reference` is for `format: gauntlet`")
        return self
