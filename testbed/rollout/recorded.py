"""Recorded actions: their JSON form, and a Team that plays them back.

Tournament games record every action (episodes.jsonl, `GameResult.actions`) so that a game
can be replayed without the entrants' code or checkpoints: the env is rebuilt, reset with the
game's seed and stepped with the recorded actions (`RecordedTeam` under `run_episode`).

JSON form (`encode_action`): an integer action stays an integer, a float stays a float, an
array becomes ``{"dtype": "float32", "data": [...]}`` so that it comes back bit for bit
(float32 values are exact in JSON's doubles, and the dtype the policy used is kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def encode_action(action: Any) -> Any:
    """The JSON form of one action (see the module docstring)."""
    if isinstance(action, np.ndarray):
        return {"dtype": str(action.dtype), "data": action.tolist()}
    if isinstance(action, np.generic):
        return action.item()
    if isinstance(action, list | tuple):
        return [encode_action(a) for a in action]
    return action


def decode_action(value: Any) -> Any:
    """The action `encode_action` wrote."""
    if isinstance(value, dict) and set(value) == {"dtype", "data"}:
        return np.asarray(value["data"], dtype=np.dtype(value["dtype"]))
    if isinstance(value, list):
        return [decode_action(v) for v in value]
    return value


class ReplayExhausted(Exception):
    """The recorded actions ran out before the episode ended (e.g. a game lost by forfeit)."""


class ReplayDiverged(Exception):
    """The env asked for an action of agents other than the recorded step's."""


class RecordedTeam:
    """A Team that returns the recorded joint actions, one step after the other."""

    def __init__(self, steps: Sequence[dict[str, Any]]):
        self.steps = [{a: decode_action(v) for a, v in step.items()} for step in steps]
        self.position = 0

    def reset(self, seed: int | None = None) -> None:
        self.position = 0

    def act(
        self, observations: dict[str, Any], action_masks: dict[str, np.ndarray | None]
    ) -> dict[str, Any]:
        if self.position >= len(self.steps):
            raise ReplayExhausted(f"the {len(self.steps)} recorded steps are used up")
        step = self.steps[self.position]
        if set(step) != set(observations):
            raise ReplayDiverged(
                f"step {self.position}: the env asks {sorted(observations)} to act, the record "
                f"has actions of {sorted(step)}"
            )
        self.position += 1
        return dict(step)
