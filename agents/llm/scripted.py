"""Scripted text policies: functions `messages -> text` that stand in for a language model
(`backend: scripted`, or served over HTTP by testbed/agents/llm/serve.py). They are not
language models; they make the plumbing testable and advice of *controlled quality* measurable.

`four_rooms_advisor(quality, seed)` reads the agent's row and column from the prompt (the
four-rooms renderer writes them) and names a shortest-path action toward the default goal with
probability `quality`, else a wrong one (not on any shortest path). Which states get wrong
advice, and which wrong action, is drawn once per state from `seed`, so an advisor is
consistent, as a cached language model is; `unparsable` is the share of states answered with
text naming no action. `four_rooms_rater` rates states 0-10 by closeness to the goal, for a
language-model shaping potential (testbed/agents/llm/rating.py).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from functools import cache

import numpy as np

Messages = list[dict[str, str]]
POSITION = re.compile(r"row (\d+), column (\d+)")
NAMES = ("up", "down", "left", "right")


@cache
def four_rooms_distances(goal: int | None = None) -> np.ndarray:
    """Shortest-path steps from every free cell to the goal (no slip)."""
    from testbed.envs.four_rooms import CELL, DEFAULT_GOAL, FREE, MOVES, WALLS

    goal = DEFAULT_GOAL if goal is None else goal
    distance = np.full(len(FREE), -1, np.int64)
    distance[goal] = 0
    queue = deque([goal])
    while queue:
        cell = queue.popleft()
        for move in MOVES:
            row, col = FREE[cell] + move
            if not WALLS[row, col] and distance[CELL[row, col]] < 0:
                distance[CELL[row, col]] = distance[cell] + 1
                queue.append(int(CELL[row, col]))
    return distance


def four_rooms_best_actions(cell: int) -> list[int]:
    """The actions on a shortest path from `cell` to the default goal (empty at the goal)."""
    from testbed.envs.four_rooms import CELL, FREE, MOVES, WALLS

    distance = four_rooms_distances()
    best = []
    for action, move in enumerate(MOVES):
        row, col = FREE[cell] + move
        target = cell if WALLS[row, col] else int(CELL[row, col])
        if distance[target] == distance[cell] - 1:
            best.append(action)
    return best


def four_rooms_advice(quality: float, seed: int, unparsable: float = 0.0) -> np.ndarray:
    """Per free cell: the advised action (-1: an unparsable answer)."""
    from testbed.envs.four_rooms import FREE

    rng = np.random.default_rng(seed)
    advice = np.zeros(len(FREE), np.int64)
    for cell in range(len(FREE)):
        best = four_rooms_best_actions(cell) or [0]
        wrong = [a for a in range(4) if a not in best]
        right = rng.random() < quality
        advice[cell] = rng.choice(best if right or not wrong else wrong)
        if rng.random() < unparsable:
            advice[cell] = -1
    return advice


def four_rooms_advisor(
    quality: float = 1.0, seed: int = 0, unparsable: float = 0.0
) -> Callable[[Messages], str]:
    """A text policy naming a right action with probability `quality` (see the module)."""
    from testbed.envs.four_rooms import cell_of

    advice = four_rooms_advice(quality, seed, unparsable)

    def answer(messages: Messages) -> str:
        found = POSITION.search(messages[-1]["content"])
        if found is None:
            return "I cannot tell where the agent is."
        action = advice[cell_of(int(found.group(1)), int(found.group(2)))]
        return "Hmm, hard to say." if action < 0 else f"Move {NAMES[action]}."

    return answer


def four_rooms_rater(quality: float = 1.0, seed: int = 0) -> Callable[[Messages], str]:
    """A text policy rating four-rooms states 0-10 by closeness to the default goal
    (10 * (1 - distance / largest distance)); in a share 1 - `quality` of the states (drawn
    once from `seed`) the rating is a uniformly random one instead."""
    from testbed.envs.four_rooms import FREE, cell_of

    distance = four_rooms_distances()
    rng = np.random.default_rng(seed)
    ratings = 10.0 * (1.0 - distance / distance.max())
    wrong = rng.random(len(FREE)) >= quality
    ratings[wrong] = rng.uniform(0.0, 10.0, int(wrong.sum()))

    def answer(messages: Messages) -> str:
        found = POSITION.search(messages[-1]["content"])
        if found is None:
            return "No idea."
        return f"{ratings[cell_of(int(found.group(1)), int(found.group(2)))]:.1f}"

    return answer


def fixed(text: str) -> Callable[[Messages], str]:
    """Always answers `text`."""
    return lambda messages: text
