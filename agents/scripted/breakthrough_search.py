"""Depth-limited negamax with alpha-beta pruning for `testbed/breakthrough_v0`.

A family of entrants of known strength order: `depth` 0 plays a uniformly random legal move,
depth d >= 1 searches d plies and scores the leaves with a material-and-advancement heuristic.
Each extra ply wins most games against the ply below (see `benchmarks/search_strength.py`).

Search (negamax form of minimax, Knuth & Moore 1975, "An analysis of alpha-beta pruning"):
- a position is always seen from the side to move (the rules module's frame), so the value of
  a position for the mover is minus its value for the opponent after the move;
- a move that reaches the far row or captures the last enemy piece is a win, worth
  WIN + remaining depth (quicker wins score higher, later losses are preferred);
- leaves: sum over own pieces of `piece_value + advance_weight * rows_advanced ** 2` minus the
  same sum for the enemy; the last ply scores every move at once from that sum's increment;
- moves are searched in order of that increment (captures and advances first, which makes
  alpha-beta cut early); at the root they are first shuffled with the episode's seed, so among
  moves of equal value and equal increment the choice is random (and reproducible).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from testbed.envs.breakthrough import legal_actions

WIN = 1e6
"""Value of a won position, plus the plies left to search (quicker wins score higher)."""


@dataclass(frozen=True)
class BreakthroughSearchConfig:
    """Parameters of the negamax agent."""

    depth: int = 2
    """Plies searched; 0 = a uniformly random legal move."""
    piece_value: float = 10.0
    """Leaf value of one piece."""
    advance_weight: float = 1.0
    """Leaf value added per squared row a piece has advanced from its home row."""
    seed: int | None = None
    """Fallback seed when `reset` is called without one."""


class BreakthroughNegamax:
    """Negamax with alpha-beta to a fixed depth; random among equally valued best moves."""

    Config = BreakthroughSearchConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: BreakthroughSearchConfig | None = None,
    ):
        self.config = config or BreakthroughSearchConfig()
        if self.config.depth < 0:
            raise ValueError(f"depth must be >= 0, got {self.config.depth}")
        board_space = (
            observation_space.spaces.get("observation")
            if isinstance(observation_space, spaces.Dict)
            else None
        )
        if board_space is None or len(board_space.shape) != 3 or board_space.shape[2] != 2:
            raise ValueError("needs a Breakthrough observation: Dict with a (rows, cols, 2) board")
        rows, cols, _ = board_space.shape
        if not isinstance(action_space, spaces.Discrete) or action_space.n != rows * cols * 3:
            raise ValueError(f"needs Discrete({rows * cols * 3}) actions, got {action_space}")
        self.rows, self.cols = rows, cols
        advanced = (rows - 1 - np.arange(rows, dtype=float)) ** 2
        self.own_weight = np.repeat(
            self.config.piece_value + self.config.advance_weight * advanced[:, None], cols, axis=1
        )
        self.enemy_weight = self.own_weight[::-1, ::-1].copy()
        self.nodes = 0  # positions expanded by the last `act`, for benchmarks
        self.rng = np.random.default_rng(self.config.seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(self.config.seed if seed is None else seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        planes = observation["observation"]
        board = planes[..., 0].astype(np.int8) - planes[..., 1].astype(np.int8)
        legal = legal_actions(board) if action_mask is None else np.flatnonzero(action_mask)
        if legal.size == 0:
            raise ValueError("no legal action")
        if self.config.depth == 0:
            return np.int64(legal[self.rng.integers(legal.size)])
        return np.int64(self.search(board, self.config.depth, self.rng.permutation(legal)))

    # -----------------------------------------------------------------------------------------

    def evaluate(self, board: np.ndarray) -> float:
        """Leaf value for the player to move (+1 pieces)."""
        return float(self.own_weight[board == 1].sum() - self.enemy_weight[board == -1].sum())

    def _moves(self, board: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        """From/to squares of `actions`, their leaf-value increments and which ones win."""
        square, direction = np.divmod(actions, 3)
        row, col = np.divmod(square, self.cols)
        to_row, to_col = row - 1, col + direction - 1
        captures = board[to_row, to_col] == -1
        gain = (
            self.own_weight[to_row, to_col]
            - self.own_weight[row, col]
            + np.where(captures, self.enemy_weight[to_row, to_col], 0.0)
        )
        wins = (to_row == 0) | (captures & (np.count_nonzero(board == -1) == 1))
        return row, col, to_row, to_col, gain, wins

    def value(self, board: np.ndarray, depth: int) -> float:
        """Negamax value for the player to move of a position not yet won, to `depth` >= 1."""
        self.nodes = 0
        return self._negamax(board, depth, -np.inf, np.inf)

    def search(self, board: np.ndarray, depth: int, root_actions: np.ndarray) -> int:
        """The best action among `root_actions` (tried in the given order on ties)."""
        self.nodes = 1
        row, col, to_row, to_col, gain, wins = self._moves(board, root_actions)
        if wins.any():
            return int(root_actions[np.flatnonzero(wins)[0]])
        if depth == 1:
            return int(root_actions[int(np.argmax(gain))])
        order = np.argsort(-gain, kind="stable")
        best_action, alpha = int(root_actions[order[0]]), -np.inf
        for i in order:
            child = self._child(board, row[i], col[i], to_row[i], to_col[i])
            value = -self._negamax(child, depth - 1, -np.inf, -alpha)
            if value > alpha:
                alpha, best_action = value, int(root_actions[i])
        return best_action

    def _child(self, board: np.ndarray, r: int, c: int, tr: int, tc: int) -> np.ndarray:
        after = board.copy()
        after[r, c] = 0
        after[tr, tc] = 1
        return -after[::-1, ::-1]  # the opponent's frame

    def _negamax(self, board: np.ndarray, depth: int, alpha: float, beta: float) -> float:
        """Value for the player to move of a non-final position, searched `depth` >= 1 plies."""
        self.nodes += 1
        actions = legal_actions(board)
        row, col, to_row, to_col, gain, wins = self._moves(board, actions)
        if wins.any():
            return WIN + depth
        if depth == 1:
            return self.evaluate(board) + float(gain.max())
        best = -np.inf
        for i in np.argsort(-gain, kind="stable"):
            child = self._child(board, row[i], col[i], to_row[i], to_col[i])
            value = -self._negamax(child, depth - 1, -beta, -alpha)
            if value > best:
                best = value
                if value > alpha:
                    alpha = value
                    if alpha >= beta:
                        break
        return best
