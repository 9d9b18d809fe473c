"""A one-ply rule-based connect-four player for `classic/connect_four_v3`.

Rules, in order:

1. drop into a column that connects four of its own, if there is one;
2. else block a column where the opponent would connect four on its next move;
3. else choose among the "safe" columns (after which the opponent cannot win at once; all legal
   columns if none is safe) the one closest to the centre, since central discs take part in
   the most lines.

Ties (two winning columns; columns 2 and 4) are broken by a generator seeded in `reset`, so a
seed fixes the game. It beats a uniformly random player almost always and loses to anything
that sets up double threats (`benchmarks/baselines.py` has the numbers).

Observation (PettingZoo connect_four_v3): `{"observation": int8 (6, 7, 2), "action_mask": (7,)}`;
row 0 is the top, plane 0 holds the mover's discs, plane 1 the opponent's; action = column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

ROWS, COLUMNS = 6, 7
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))


@dataclass(frozen=True)
class ConnectFourConfig:
    """Parameters of the connect-four heuristic."""

    seed: int | None = None
    """Fallback seed for tie-breaks when `reset` is called without one."""
    avoid_traps: bool = True
    """Skip columns that let the opponent win on its next move (when another column exists)."""


def landing_row(occupied: np.ndarray, column: int) -> int | None:
    """The row a disc dropped into `column` comes to rest in, or None if the column is full."""
    empty = np.flatnonzero(~occupied[:, column])
    return int(empty[-1]) if empty.size else None


def connects_four(discs: np.ndarray, row: int, column: int) -> bool:
    """Whether a disc at (row, column) completes four in a line with `discs` (bool 6x7)."""
    for d_row, d_col in DIRECTIONS:
        count = 1
        for sign in (1, -1):
            r, c = row + sign * d_row, column + sign * d_col
            while 0 <= r < ROWS and 0 <= c < COLUMNS and discs[r, c]:
                count += 1
                r, c = r + sign * d_row, c + sign * d_col
        if count >= 4:
            return True
    return False


def winning_columns(discs: np.ndarray, occupied: np.ndarray, columns: list[int]) -> list[int]:
    """The columns among `columns` where dropping a disc of `discs` connects four."""
    wins = []
    for column in columns:
        row = landing_row(occupied, column)
        if row is not None and connects_four(discs, row, column):
            wins.append(column)
    return wins


class ConnectFourHeuristic:
    """Win, block, avoid handing the opponent a win, prefer the centre; seeded tie-breaks."""

    Config = ConnectFourConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: ConnectFourConfig | None = None,
    ):
        self.config = config or ConnectFourConfig()
        board = (
            observation_space["observation"] if isinstance(observation_space, spaces.Dict) else None
        )
        if board is None or board.shape != (ROWS, COLUMNS, 2) or action_space != spaces.Discrete(7):
            raise ValueError(
                "ConnectFourHeuristic needs connect_four_v3 spaces: a Dict observation with a "
                f"(6, 7, 2) 'observation' and Discrete(7) actions; got {observation_space}, "
                f"{action_space}"
            )
        self.rng = np.random.default_rng(self.config.seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(self.config.seed if seed is None else seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        board = np.asarray(observation["observation"], dtype=bool)
        mine, theirs = board[:, :, 0], board[:, :, 1]
        occupied = mine | theirs
        if action_mask is None:
            action_mask = observation.get("action_mask")
        legal = [c for c in range(COLUMNS) if not occupied[0, c]]
        if action_mask is not None:
            legal = [c for c in legal if action_mask[c]]
        if not legal:
            raise ValueError("no legal column left")
        choice = (
            winning_columns(mine, occupied, legal)
            or winning_columns(theirs, occupied, legal)
            or self._centre_most(self._safe(mine, theirs, occupied, legal) or legal)
        )
        return np.int64(choice[self.rng.integers(len(choice))])

    def _safe(
        self, mine: np.ndarray, theirs: np.ndarray, occupied: np.ndarray, legal: list[int]
    ) -> list[int]:
        """Legal columns after which the opponent has no immediate win."""
        if not self.config.avoid_traps:
            return legal
        safe = []
        for column in legal:
            row = landing_row(occupied, column)
            assert row is not None
            occupied[row, column] = mine[row, column] = True
            if not winning_columns(theirs, occupied, list(range(COLUMNS))):
                safe.append(column)
            occupied[row, column] = mine[row, column] = False
        return safe

    @staticmethod
    def _centre_most(columns: list[int]) -> list[int]:
        distance = min(abs(c - COLUMNS // 2) for c in columns)
        return [c for c in columns if abs(c - COLUMNS // 2) == distance]
