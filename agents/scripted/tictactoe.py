"""A rule-based tic-tac-toe player for `classic/tictactoe_v3`.

Rules, in order: complete a line of its own if it can; else block the opponent's line; else
take the centre; else a corner; else an edge. Ties within a rule (two winning squares, two free
corners) are broken by a generator seeded in `reset`, so a seed fixes the game. It never loses
to a player that cannot fork, and beats a uniformly random player in about nine games out of
ten (`benchmarks/baselines.py` has the numbers).

Observation (PettingZoo tictactoe_v3): `{"observation": int8 (3, 3, 2), "action_mask": (9,)}`;
plane 0 holds the mover's marks, plane 1 the opponent's. Flattening a plane row-major gives the
square index of the action (the env's squares are numbered column-wise, and its observation is
the transposed board, which preserves lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

LINES = (
    (0, 1, 2), (3, 4, 5), (6, 7, 8),  # one direction
    (0, 3, 6), (1, 4, 7), (2, 5, 8),  # the other
    (0, 4, 8), (2, 4, 6),  # diagonals
)  # fmt: skip
CENTRE = (4,)
CORNERS = (0, 2, 6, 8)
EDGES = (1, 3, 5, 7)


@dataclass(frozen=True)
class TicTacToeConfig:
    """Parameters of the tic-tac-toe heuristic."""

    seed: int | None = None
    """Fallback seed for tie-breaks when `reset` is called without one."""


def completing_squares(mine: np.ndarray, free: np.ndarray) -> list[int]:
    """Free squares that would complete a line of `mine` (two marks and a free square)."""
    found = []
    for line in LINES:
        if sum(mine[i] for i in line) == 2:
            found += [i for i in line if free[i] and i not in found]
    return found


class TicTacToeHeuristic:
    """Win, block, centre, corners, edges; seeded tie-breaks."""

    Config = TicTacToeConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: TicTacToeConfig | None = None,
    ):
        self.config = config or TicTacToeConfig()
        board = (
            observation_space["observation"] if isinstance(observation_space, spaces.Dict) else None
        )
        if board is None or board.shape != (3, 3, 2) or action_space != spaces.Discrete(9):
            raise ValueError(
                "TicTacToeHeuristic needs tictactoe_v3 spaces: a Dict observation with a (3, 3, 2) "
                f"'observation' and Discrete(9) actions; got {observation_space}, {action_space}"
            )
        self.rng = np.random.default_rng(self.config.seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(self.config.seed if seed is None else seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        planes = np.asarray(observation["observation"]).reshape(9, 2)
        mine, theirs = planes[:, 0], planes[:, 1]
        if action_mask is None:
            action_mask = observation.get("action_mask")
        free = (mine == 0) & (theirs == 0)
        if action_mask is not None:
            free &= np.asarray(action_mask, dtype=bool)
        candidates = (
            completing_squares(mine, free),
            completing_squares(theirs, free),
            [i for i in CENTRE if free[i]],
            [i for i in CORNERS if free[i]],
            [i for i in EDGES if free[i]],
        )
        for squares in candidates:
            if squares:
                return np.int64(squares[self.rng.integers(len(squares))])
        raise ValueError("no legal square left")
