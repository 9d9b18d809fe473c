"""Breakthrough: a small two-player zero-sum race-and-capture board game (AEC, masked actions).

Rules
    Each player starts with `piece_rows` full rows of pieces on its own side of a `rows` x `cols`
    board. `player_0` (white, "W") starts at the bottom and moves first, toward row 0;
    `player_1` (black, "B") starts at the top and moves toward the last row. A move takes one
    own piece one row forward: straight ahead onto an empty square, or diagonally forward onto
    a square that is empty or holds an enemy piece, which is then captured. Straight moves never
    capture. A player wins by moving a piece onto the far row, or by capturing every enemy
    piece. With `cols >= 2` a player always has a legal move, and every move brings one piece
    one row closer to the goal, so a game ends, with a winner, within
    `2 * (piece_rows * cols * (rows - 2) + 1)` plies (62 on the default board): there are no
    draws, unless `max_moves` cuts a game short.

Parameters
    `rows` (default 5), `cols` (5), `piece_rows` (2; needs rows >= 2 * piece_rows + 1 and
    cols >= 2), `max_moves` (None = no limit; else a game is truncated as a draw after that
    many plies), `render_mode` ("ansi": the board as text, "rgb_array": 32 px per square).

Agents
    `player_0`, `player_1`; `agent_selection` alternates, starting with `player_0`.

Observation (for the agent asked to observe)
    Dict with
    - "observation": Box(0, 1, (rows, cols, 2), int8); plane 0 = own pieces, plane 1 = enemy
      pieces, both drawn in the agent's OWN frame: the board is turned 180 degrees for
      `player_1`, so every agent sees its pieces moving toward row 0.
    - "action_mask": Box(0, 1, (rows * cols * 3,), int8); 1 = legal. All zeros when it is not
      this agent's turn (PettingZoo classic convention).

Action
    Discrete(rows * cols * 3): `(row * cols + col) * 3 + d` moves the own piece at (row, col)
    of the agent's own frame in direction d: 0 = forward-left (row-1, col-1), 1 = straight
    (row-1, col), 2 = forward-right (row-1, col+1). An illegal action ends the game with -1
    for the player who made it and 0 for the other (PettingZoo's TerminateIllegalWrapper).

Rewards and costs
    +1 to the winner and -1 to the loser when the game ends, 0 on every other step and to both
    when `max_moves` cuts the game short. `infos[agent]["cost"]` is always 0.0.

What good play scores
    Zero-sum: the two returns of a game add up to 0; a player's mean return is 2 x win rate - 1.
    The seats are not quite fair: in self-play `player_0` wins 54 % of games between random
    players, 38 % at search depth 1, 33 % at depth 2 and 53 % at depth 3, so compare players
    with seats swapped. The negamax agents of `agents/scripted/breakthrough_search.py` form a
    strict ladder on the default 5x5 board (100 games per pair, seats swapped): depth 1 beats
    random play in 100 % of games, depth 2 beats depth 1 in 88 %, depth 3 beats depth 2 in 72 %
    and depth 4 beats depth 3 in 95 % (`benchmarks/search_strength.py`).

Rules as functions
    The rules are pure NumPy functions on a board in the mover's frame (int8, +1 = the pieces
    of the player to move, travelling toward row 0; -1 = the opponent's): `initial_board`,
    `to_frame` / `flip` (change of frame), `legal_mask`, `legal_actions`, `is_legal`,
    `decode`, `apply_action`, `winner`. Agents reuse them. `raw_env` is the env without
    PettingZoo's wrappers; it raises ValueError on an illegal action.

Version history
    v0: first version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

DIRECTIONS = (-1, 0, 1)  # column change of direction d = 0, 1, 2; every move goes one row up


# ---------------------------------------------------------------------------------------------
# Rules: pure functions on a board in the mover's frame (+1 = mover, moving toward row 0)


def initial_board(rows: int = 5, cols: int = 5, piece_rows: int = 2) -> np.ndarray:
    """The start position in `player_0`'s frame: its pieces (+1) fill the bottom rows."""
    board = np.zeros((rows, cols), dtype=np.int8)
    board[:piece_rows] = -1
    board[rows - piece_rows :] = 1
    return board


def to_frame(board: np.ndarray, player: int) -> np.ndarray:
    """`player_0`'s frame -> `player`'s frame (0 or 1); a new array. Its own inverse."""
    return board.copy() if player == 0 else -board[::-1, ::-1]


def flip(board: np.ndarray) -> np.ndarray:
    """The same position seen by the other player (turned 180 degrees, colours swapped)."""
    return -board[::-1, ::-1]


def legal_mask(board: np.ndarray) -> np.ndarray:
    """Bool mask over the rows * cols * 3 actions of the player to move (+1)."""
    own = board == 1
    free_or_enemy = ~own
    empty = board == 0
    mask = np.zeros(board.shape + (3,), dtype=bool)
    mask[1:, 1:, 0] = own[1:, 1:] & free_or_enemy[:-1, :-1]
    mask[1:, :, 1] = own[1:, :] & empty[:-1, :]
    mask[1:, :-1, 2] = own[1:, :-1] & free_or_enemy[:-1, 1:]
    return mask.reshape(-1)


def legal_actions(board: np.ndarray) -> np.ndarray:
    """Indices of the legal actions of the player to move, ascending."""
    return np.flatnonzero(legal_mask(board))


def decode(action: int, cols: int) -> tuple[int, int, int, int]:
    """Action -> (from_row, from_col, to_row, to_col)."""
    square, direction = divmod(int(action), 3)
    row, col = divmod(square, cols)
    return row, col, row - 1, col + DIRECTIONS[direction]


def is_legal(board: np.ndarray, action: int) -> bool:
    rows, cols = board.shape
    if not 0 <= action < rows * cols * 3:
        return False
    r, c, tr, tc = decode(action, cols)
    if board[r, c] != 1 or tr < 0 or not 0 <= tc < cols:
        return False
    return board[tr, tc] == 0 if tc == c else board[tr, tc] != 1


def apply_action(board: np.ndarray, action: int) -> np.ndarray:
    """The board after the player to move plays `action`, still in that player's frame.

    Raises ValueError on an illegal action. Use `flip` to hand the turn to the opponent.
    """
    if not is_legal(board, action):
        raise ValueError(f"illegal action {action} on board\n{board}")
    r, c, tr, tc = decode(action, board.shape[1])
    after = board.copy()
    after[r, c] = 0
    after[tr, tc] = 1
    return after


def winner(board: np.ndarray) -> int:
    """+1 if the +1 player has won, -1 if the -1 player has won, 0 if the game goes on."""
    if (board[0] == 1).any() or not (board == -1).any():
        return 1
    if (board[-1] == -1).any() or not (board == 1).any():
        return -1
    return 0


# ---------------------------------------------------------------------------------------------
# Environment

_LIGHT, _DARK = np.array([238, 218, 181], np.uint8), np.array([181, 136, 99], np.uint8)
_WHITE, _BLACK = np.array([250, 250, 250], np.uint8), np.array([30, 30, 30], np.uint8)


class BreakthroughEnv(AECEnv):
    """Breakthrough on a `rows` x `cols` board; see the module docstring."""

    metadata = {
        "name": "breakthrough_v0",
        "render_modes": ["ansi", "rgb_array"],
        "is_parallelizable": False,
        "render_fps": 2,
    }

    def __init__(
        self,
        rows: int = 5,
        cols: int = 5,
        piece_rows: int = 2,
        max_moves: int | None = None,
        render_mode: str | None = None,
    ):
        super().__init__()
        if piece_rows < 1 or rows < 2 * piece_rows + 1:
            raise ValueError(
                f"need piece_rows >= 1 and rows >= 2 * piece_rows + 1, got "
                f"rows={rows}, piece_rows={piece_rows}"
            )
        if cols < 2:
            raise ValueError(f"need cols >= 2, got {cols}")
        if max_moves is not None and max_moves < 1:
            raise ValueError(f"max_moves must be >= 1 or None, got {max_moves}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.rows, self.cols, self.piece_rows = rows, cols, piece_rows
        self.max_moves = max_moves
        self.render_mode = render_mode
        self.possible_agents = ["player_0", "player_1"]
        n_actions = rows * cols * 3
        obs_space = spaces.Dict(
            {
                "observation": spaces.Box(0, 1, (rows, cols, 2), dtype=np.int8),
                "action_mask": spaces.Box(0, 1, (n_actions,), dtype=np.int8),
            }
        )
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(n_actions) for a in self.possible_agents}
        self.board = initial_board(rows, cols, piece_rows)
        self.moves = 0

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def _player(self, agent: str) -> int:
        return self.possible_agents.index(agent)

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        frame = to_frame(self.board, self._player(agent))
        planes = np.stack([frame == 1, frame == -1], axis=-1).astype(np.int8)
        if agent == self.agent_selection and not (
            self.terminations[agent] or self.truncations[agent]
        ):
            mask = legal_mask(frame).astype(np.int8)
        else:
            mask = np.zeros(self.rows * self.cols * 3, dtype=np.int8)
        return {"observation": planes, "action_mask": mask}

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self.np_random = np.random.default_rng(seed)  # the game itself has no randomness
        self.board = initial_board(self.rows, self.cols, self.piece_rows)
        self.moves = 0
        self.agents = self.possible_agents[:]
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos = {a: {"cost": 0.0} for a in self.agents}
        self.agent_selection = self.agents[0]

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        player = self._player(agent)
        frame = to_frame(self.board, player)
        after = apply_action(frame, int(action))  # the wrapper ends the game on illegal moves
        self.board = to_frame(after, player)
        self.moves += 1
        self._cumulative_rewards[agent] = 0.0
        self.rewards = {a: 0.0 for a in self.agents}
        self.infos = {a: {"cost": 0.0} for a in self.agents}
        if winner(after) == 1:
            other = self.possible_agents[1 - player]
            self.rewards[agent], self.rewards[other] = 1.0, -1.0
            self.terminations = {a: True for a in self.agents}
        elif self.max_moves is not None and self.moves >= self.max_moves:
            self.truncations = {a: True for a in self.agents}
        self.agent_selection = self.possible_agents[1 - player]
        self._accumulate_rewards()

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "ansi":
            return self._ansi()
        if self.render_mode == "rgb_array":
            return self._rgb()
        return None

    def _ansi(self) -> str:
        symbols = {1: "W", -1: "B", 0: "."}
        lines = [" ".join(symbols[int(v)] for v in row) for row in self.board]
        to_move = "W (player_0)" if self.agent_selection == "player_0" else "B (player_1)"
        return "\n".join(lines) + f"\nmove {self.moves}, {to_move} to play\n"

    def _rgb(self, cell: int = 32) -> np.ndarray:
        rows, cols = self.board.shape
        parity = (np.add.outer(np.arange(rows), np.arange(cols)) % 2).astype(bool)
        squares = np.where(parity[..., None], _DARK, _LIGHT)
        frame = np.repeat(np.repeat(squares, cell, axis=0), cell, axis=1)
        yy, xx = np.mgrid[:cell, :cell] + 0.5
        disc = (yy - cell / 2) ** 2 + (xx - cell / 2) ** 2 <= (0.38 * cell) ** 2
        for (r, c), value in np.ndenumerate(self.board):
            if value:
                tile = frame[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell]
                tile[disc] = _WHITE if value == 1 else _BLACK
        return frame

    def close(self) -> None:
        pass


def raw_env(
    rows: int = 5,
    cols: int = 5,
    piece_rows: int = 2,
    max_moves: int | None = None,
    render_mode: str | None = None,
) -> BreakthroughEnv:
    """The unwrapped env: an illegal action raises ValueError."""
    return BreakthroughEnv(rows, cols, piece_rows, max_moves, render_mode)


def breakthrough_v0(
    rows: int = 5,
    cols: int = 5,
    piece_rows: int = 2,
    max_moves: int | None = None,
    render_mode: str | None = None,
) -> AECEnv:
    """Breakthrough wrapped like PettingZoo classic games (an illegal move loses the game)."""
    env = raw_env(rows, cols, piece_rows, max_moves, render_mode)
    env = wrappers.TerminateIllegalWrapper(env, illegal_reward=-1)
    env = wrappers.AssertOutOfBoundsWrapper(env)
    return wrappers.OrderEnforcingWrapper(env)
