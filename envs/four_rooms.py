"""Four rooms (Sutton, Precup & Singh 1999, "Between MDPs and semi-MDPs", Artificial
Intelligence 112; the option-critic setting of Bacon, Harb & Precup 2017): `testbed/four_rooms_v0`.

A 13 x 13 grid (walls included, 104 free cells) cut into four rooms joined by four doorways.
The agent starts on a uniformly drawn free cell other than the goal and must reach the goal.

Agents
    `agent_0` (one agent, ParallelEnv).

Actions
    Discrete(4): 0 up, 1 down, 2 left, 3 right. With probability `slip` (default 1/3) the
    action is replaced by a uniformly drawn one (possibly the same), so the intended move
    happens with probability 3/4. A move into a wall fails. Bacon et al. write "fail with
    probability 1/3, in which case the agent transitions randomly to one of the empty
    adjacent cells"; their released fourrooms.py moves as intended and then, with probability
    1/3, on to a random empty neighbour of the new cell. Neither variant is modelled here.

Observations
    Discrete(104): the index of the agent's free cell, row-major over the free cells
    (`cell_of(row, col)` and `position_of(cell)` convert).

Rewards
    1.0 on reaching the goal, else 0.

Costs
    None: `infos["agent_0"]["cost"]` is always 0.0.

Episode end
    Terminates at the goal; truncation after `max_steps` (default 1000) steps.

Moving the goal
    `goal` (a free cell index, default 62: the east doorway region used by Bacon et al.) is
    where the goal starts; `move_goal(cell)` or `reset(options={"goal": cell})` moves it for
    the following episodes, as in the transfer experiment (goal moved after 1000 episodes to
    one of `TRANSFER_GOALS`, the lower-right room's cells and its west doorway).

Rendering
    "rgb_array": a (13 * 16, 13 * 16, 3) uint8 frame (walls dark, goal green, agent red);
    "ansi": text, `#` wall, `G` goal, `A` agent.

Version history
    v0: first version.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

AGENT = "agent_0"
LAYOUT = (
    "wwwwwwwwwwwww",
    "w     w     w",
    "w     w     w",
    "w           w",
    "w     w     w",
    "w     w     w",
    "ww wwww     w",
    "w     www www",
    "w     w     w",
    "w     w     w",
    "w           w",
    "w     w     w",
    "wwwwwwwwwwwww",
)
WALLS = np.array([[c == "w" for c in row] for row in LAYOUT])
FREE = np.argwhere(~WALLS)  # (104, 2): row, col of each free cell, row-major
CELL = -np.ones(WALLS.shape, np.int64)
CELL[FREE[:, 0], FREE[:, 1]] = np.arange(len(FREE))
MOVES = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)])
DEFAULT_GOAL = 62
# Bacon et al. 2017: "after 1000 episodes, the goal moves to a random location in the lower
# right room"; their transfer.py draws it from these 21 cells (that room and its west doorway)
TRANSFER_GOALS = tuple(
    [int(CELL[r, c]) for r in range(8, 12) for c in range(7, 12)] + [int(CELL[10, 6])]
)
CELL_PX = 16


def cell_of(row: int, col: int) -> int:
    """The free-cell index at (row, col), -1 for a wall."""
    return int(CELL[row, col])


def position_of(cell: int) -> tuple[int, int]:
    """(row, col) of a free-cell index."""
    return int(FREE[cell, 0]), int(FREE[cell, 1])


def check_goal(goal: int) -> None:
    """ValueError unless `goal` is a free-cell index."""
    if not 0 <= int(goal) < len(FREE):
        raise ValueError(f"goal must be a free cell index in 0..{len(FREE) - 1}, got {goal}")


def check_params(
    goal: int, slip: float, max_steps: int, render_mode: str | None, modes: list[str]
) -> None:
    """ValueError on a bad goal, slip, step limit or render mode (four rooms and its team)."""
    check_goal(goal)
    if not 0.0 <= slip <= 1.0:
        raise ValueError(f"slip must be in [0, 1], got {slip}")
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"render_mode must be one of {modes}")


def draw(goal: int, placed: list[tuple[str, int]], mode: str) -> Any:
    """The grid with the goal and each (label, cell): text for "ansi", else an RGB frame."""
    target = position_of(goal)
    cells = [(label, position_of(cell)) for label, cell in placed]
    if mode == "ansi":
        grid = [["#" if w else " " for w in row] for row in WALLS]
        grid[target[0]][target[1]] = "G"
        for label, (row, col) in cells:
            grid[row][col] = label
        return "\n".join("".join(row) for row in grid)
    frame = np.where(WALLS[:, :, None], 60, 235).astype(np.uint8).repeat(3, axis=2)
    frame[target] = (46, 139, 87)
    for _, cell in cells:
        frame[cell] = (200, 40, 40)
    return frame.repeat(CELL_PX, axis=0).repeat(CELL_PX, axis=1)


class FourRoomsEnv(ParallelEnv):
    """The four-rooms grid world; see the module docstring."""

    metadata = {
        "name": "four_rooms_v0",
        "render_modes": ["rgb_array", "ansi"],
        "is_parallelizable": True,
        "render_fps": 10,
    }

    def __init__(
        self,
        goal: int = DEFAULT_GOAL,
        slip: float = 1.0 / 3.0,
        max_steps: int = 1000,
        render_mode: str | None = None,
    ):
        check_params(goal, slip, max_steps, render_mode, self.metadata["render_modes"])
        self.goal, self.slip, self.max_steps = goal, slip, max_steps
        self.render_mode = render_mode
        self.possible_agents = [AGENT]
        self.agents: list[str] = []
        self._obs_space = spaces.Discrete(len(FREE))
        self._act_space = spaces.Discrete(4)
        self._rng = np.random.default_rng()
        self._cell = 0
        self._t = 0

    def observation_space(self, agent: str) -> spaces.Discrete:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._act_space

    def move_goal(self, cell: int) -> None:
        """Put the goal on `cell` from the next reset on."""
        check_goal(cell)
        self.goal = int(cell)

    def reset(self, seed: int | None = None, options: dict | None = None):
        if options and "goal" in options:
            self.move_goal(options["goal"])
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._act_space.seed(seed)
        start = int(self._rng.integers(len(FREE) - 1))
        self._cell = start + (start >= self.goal)  # any free cell but the goal
        self._t = 0
        self.agents = [AGENT]
        return {AGENT: self._cell}, {AGENT: {"cost": 0.0}}

    def step(self, actions: dict[str, Any]):
        action = int(actions[AGENT])
        if not 0 <= action < 4:
            raise ValueError(f"action must be in 0..3, got {action}")
        if self._rng.random() < self.slip:
            action = int(self._rng.integers(4))
        row, col = FREE[self._cell] + MOVES[action]
        if not WALLS[row, col]:
            self._cell = int(CELL[row, col])
        self._t += 1
        reached = self._cell == self.goal
        truncated = not reached and self._t >= self.max_steps
        if reached or truncated:
            self.agents = []
        return (
            {AGENT: self._cell},
            {AGENT: 1.0 if reached else 0.0},
            {AGENT: reached},
            {AGENT: truncated},
            {AGENT: {"cost": 0.0}},
        )

    def render(self) -> Any:
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode=...")
            return None
        return draw(self.goal, [("A", self._cell)], self.render_mode)

    def state(self) -> np.ndarray:
        return np.array([self._cell, self.goal])

    def close(self) -> None:
        pass


def four_rooms_v0(
    goal: int = DEFAULT_GOAL,
    slip: float = 1.0 / 3.0,
    max_steps: int = 1000,
    render_mode: str | None = None,
) -> FourRoomsEnv:
    """The four-rooms env (goal cell, slip probability, step limit)."""
    return FourRoomsEnv(goal=goal, slip=slip, max_steps=max_steps, render_mode=render_mode)
