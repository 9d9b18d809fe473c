"""Scripted forager for `testbed/foraging_v0`: go to an item a partner can also reach, then load.

Each step, from its own observation only (no communication):

1. Read the egocentric window: other agents, items (with their level) and blocked cells.
2. Score every visible item by when it could be collected: the later of "I am next to it" and
   "enough partners (level - 1) are next to it", both as Manhattan distances; pick the lowest.
   Agents near the same item therefore tend to pick the same item.
3. Next to the chosen item: "load" (and keep loading, which is how it waits for a partner).
   Otherwise: the first move of a shortest free path (breadth-first search in its window) to
   a free cell next to the item; when there is none, a move that shortens the distance, or a
   random free sideways one. When the same move failed last
   step (another agent wanted the same cell), it waits with probability 1/2, which breaks
   such ties.
4. No item in sight (only with a limited `sight`): keep a heading, turn at random when blocked.

A decentralised heuristic, not optimal; a reference point between random and a trained team
(see the env's module docstring for the scores).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

NOOP, UP, DOWN, LEFT, RIGHT, LOAD = range(6)
STEPS = {UP: (-1, 0), DOWN: (1, 0), LEFT: (0, -1), RIGHT: (0, 1)}


@dataclass(frozen=True)
class ForagerConfig:
    """Parameters of the scripted forager."""

    turn_prob: float = 0.2
    """While exploring (no item in sight), chance per step to pick a new random heading."""
    random_prob: float = 0.0
    """Chance per step to act uniformly at random (0 = fully scripted)."""
    seed: int | None = None
    """Fallback seed when `reset` is called without one."""


class Forager:
    """Goes to the item it and its partners reach soonest, then loads until it is collected."""

    Config = ForagerConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: ForagerConfig | None = None,
    ):
        self.config = config or self.Config()
        if not isinstance(action_space, spaces.Discrete) or action_space.n != 6:
            raise ValueError(f"needs foraging's Discrete(6) actions, got {action_space!r}")
        size = observation_space.shape[0] if isinstance(observation_space, spaces.Box) else 0
        width = int(round(np.sqrt(max(size - 2, 0) / 3)))
        if size < 29 or 2 + 3 * width * width != size or width % 2 == 0:
            raise ValueError(f"needs foraging's observation vector, got {observation_space!r}")
        self.width, self.centre = width, width // 2
        self.rng = np.random.default_rng(self.config.seed)
        self.heading = UP
        self.last_move: int | None = None  # last move tried, to notice when it failed
        self.last_position: np.ndarray | None = None

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(self.config.seed if seed is None else seed)
        self.heading = int(self.rng.choice(list(STEPS)))
        self.last_move, self.last_position = None, None

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        observation = np.asarray(observation, dtype=np.float32)
        stuck = self.last_move is not None and np.array_equal(observation[:2], self.last_position)
        action = self._choose(observation)
        if stuck and action == self.last_move and self.rng.random() < 0.5:
            action = NOOP  # the same move failed last step (a contested cell): back off at random
        if self.config.random_prob > 0 and self.rng.random() < self.config.random_prob:
            action = int(self.rng.integers(6))
        self.last_move = action if action in STEPS else None
        self.last_position = observation[:2].copy()
        return np.int64(action)

    def _choose(self, observation: np.ndarray) -> int:
        window = observation[2:].reshape(3, self.width, self.width)
        others = np.argwhere(window[0] > 0) - self.centre
        items = np.argwhere(window[1] > 0) - self.centre
        blocked = window.sum(axis=0) > 0
        if len(items) == 0:
            return self._explore(blocked)
        levels = window[1][window[1] > 0].astype(np.int64)
        mine = np.abs(items).sum(axis=1) - 1  # steps until I am next to each item
        partners = np.full(len(items), 10**6)
        if len(others):
            theirs = np.sort(np.abs(others[:, None, :] - items[None, :, :]).sum(axis=2) - 1, 0)
            enough = levels - 1 <= len(others)
            need = np.clip(levels - 2, 0, len(others) - 1)
            partners = np.where(enough, theirs[need, np.arange(len(items))], partners)
        partners = np.where(levels <= 1, 0, partners)
        best = int(np.argmin(np.maximum(mine, partners) + 0.01 * mine))
        if mine[best] == 0:
            return LOAD
        return self._towards(items[best], blocked)

    def _free(self, blocked: np.ndarray, action: int) -> bool:
        dr, dc = STEPS[action]
        return not blocked[self.centre + dr, self.centre + dc]

    def _towards(self, target: np.ndarray, blocked: np.ndarray) -> int:
        """First move of a shortest free path to a cell next to `target` (breadth-first)."""
        size, centre = self.width, self.centre
        goal_cells = set()
        for dr, dc in STEPS.values():
            r, c = centre + int(target[0]) + dr, centre + int(target[1]) + dc
            if 0 <= r < size and 0 <= c < size and not blocked[r, c]:
                goal_cells.add((r, c))
        first_move: dict[tuple[int, int], int] = {(centre, centre): NOOP}
        frontier = deque([(centre, centre)])
        while frontier:
            cell = frontier.popleft()
            if cell in goal_cells:
                return first_move[cell]
            for action, (dr, dc) in STEPS.items():
                nxt = (cell[0] + dr, cell[1] + dc)
                if (
                    0 <= nxt[0] < size
                    and 0 <= nxt[1] < size
                    and not blocked[nxt]
                    and nxt not in first_move
                ):
                    first_move[nxt] = action if cell == (centre, centre) else first_move[cell]
                    frontier.append(nxt)
        return self._greedy(target, blocked)  # no free path now: edge closer and hope it clears

    def _greedy(self, target: np.ndarray, blocked: np.ndarray) -> int:
        r, c = int(target[0]), int(target[1])
        moves = []  # (distance left along the axis, move along it), longer axis first
        if r:
            moves.append((abs(r), UP if r < 0 else DOWN))
        if c:
            moves.append((abs(c), LEFT if c < 0 else RIGHT))
        closer = [action for _, action in sorted(moves, reverse=True)]
        for action in closer:
            if self._free(blocked, action):
                return action
        free = [a for a in STEPS if a not in closer and self._free(blocked, a)]
        return int(self.rng.choice(free)) if free else NOOP

    def _explore(self, blocked: np.ndarray) -> int:
        if not self._free(blocked, self.heading) or self.rng.random() < self.config.turn_prob:
            free = [a for a in STEPS if self._free(blocked, a)]
            self.heading = int(self.rng.choice(free)) if free else self.heading
        return self.heading if self._free(blocked, self.heading) else NOOP
