"""Which games a tournament plays: sides of the env, pairings of entrants, seeds.

Every game of round r uses the same chance seed, whoever plays it, so the seat rotations of a
pairing (and different pairings) face the same luck. A game's identity is its position in the
schedule; the schedule depends only on the stage, so a resumed run plays the same games.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from testbed.errors import BadInput
from testbed.rollout.build import match_pattern
from testbed.seeding import stream_seed


@dataclass(frozen=True)
class Game:
    """One scheduled game: which entrant plays each side, on which seed."""

    index: int
    """Position in the schedule; ratings apply games in this order."""
    group: int
    """Games of one pairing and round (its seat rotations) share a group and a seed."""
    round: int
    entrants: tuple[str, ...]
    """Entrant per side, in side order."""
    seed: int


def resolve_sides(
    agent_names: list[str], sides: dict[str, list[str]] | None, *, where: str | None = None
) -> dict[str, list[str]]:
    """{side name: env agents}: each agent in the first side with a matching pattern."""
    if sides is None:
        return {agent: [agent] for agent in agent_names}
    members: dict[str, list[str]] = {side: [] for side in sides}
    for agent in agent_names:
        side = next(
            (s for s, patterns in sides.items() if match_pattern(dict.fromkeys(patterns), agent)),
            None,
        )
        if side is None:
            raise BadInput(
                f"env agent {agent!r} belongs to no side; the env has agents {agent_names}",
                where=where,
                hint='add its name or a glob such as "adversary_*" to a side',
            )
        members[side].append(agent)
    empty = [s for s, agents in members.items() if not agents]
    if empty:
        raise BadInput(
            f"side {empty[0]!r} matches no agent of the env (its agents: {agent_names})",
            where=where,
        )
    if len(members) < 2:
        raise BadInput("a tournament needs at least two sides", where=where)
    return members


def _rotations(group: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every entrant on every side once: the cyclic shifts of the group."""
    return [group[k:] + group[:k] for k in range(len(group))]


def make_schedule(
    stage: Any,
    n_sides: int,
    root_seed: int,
    stream: str,
    *,
    where: Callable[[str], str | None] = lambda field: None,
) -> list[Game]:
    """All games of a round-robin, gauntlet or free-for-all, in rating order; `where(field)`
    places an error in the scenario file."""
    names = list(stage.entrants)
    if stage.format == "free_for_all":
        if len(names) < n_sides:
            raise BadInput(
                f"free-for-all on {n_sides} sides needs at least {n_sides} entrants, "
                f"got {len(names)}",
                where=where("entrants"),
            )
        groups = list(itertools.combinations(names, n_sides))
    elif n_sides != 2:
        raise BadInput(
            f"format {stage.format!r} pairs two sides, but this env has {n_sides}",
            where=where("format"),
            hint="use `format: free_for_all`, or group the agents into two `sides`",
        )
    elif stage.format == "gauntlet":
        challengers = [n for n in names if n not in stage.reference]
        groups = [(c, r) for c in challengers for r in stage.reference]
    else:
        groups = list(itertools.combinations(names, 2))
    games: list[Game] = []
    for round_ in range(stage.rounds):
        seed = stream_seed(root_seed, f"{stream}/tournament", round_)
        for g, group in enumerate(groups):
            for seats in _rotations(tuple(group)):
                games.append(Game(len(games), round_ * len(groups) + g, round_, seats, seed))
    return games
