"""Episodes -> the flat transition arrays offline learners load (`OfflineLearner.load_data`).

The mapping holds, one row per step over every episode in order:
`observations`, `next_observations` (stacked as the space: an array, or a dict of arrays for
a Dict space such as a masked observation), `actions` (env units), `rewards`, `costs`,
`terminations`, `truncations`, `episode_starts` (True on an episode's first step) and, when
the observations carry them, `action_masks` / `next_action_masks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from testbed.datasets.store import Episode
from testbed.errors import BadInput


def _stack(space: Any, rows: list[Any]) -> Any:
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        return {k: _stack(s, [r[k] for r in rows]) for k, s in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(_stack(s, [r[i] for r in rows]) for i, s in enumerate(space.spaces))
    return np.asarray(rows, dtype=space.dtype)


def to_transitions(
    episodes: Sequence[Episode], observation_space: Any, action_space: Any
) -> dict[str, Any]:
    """Flatten episodes into transition arrays (see the module docstring)."""
    if not episodes or not any(len(e) for e in episodes):
        raise BadInput("the dataset holds no transitions")
    obs: list[Any] = []
    nxt: list[Any] = []
    starts: list[bool] = []
    for e in episodes:
        obs += e.observations[:-1]
        nxt += e.observations[1:]
        starts += [True] + [False] * (len(e) - 1)
    data: dict[str, Any] = {
        "observations": _stack(observation_space, obs),
        "next_observations": _stack(observation_space, nxt),
        "actions": _stack(action_space, [a for e in episodes for a in e.actions]),
        "rewards": np.asarray([r for e in episodes for r in e.rewards], np.float32),
        "costs": np.asarray([c for e in episodes for c in e.costs], np.float32),
        "terminations": np.asarray([t for e in episodes for t in e.terminations], bool),
        "truncations": np.asarray([t for e in episodes for t in e.truncations], bool),
        "episode_starts": np.asarray(starts, bool),
    }
    if isinstance(data["observations"], dict) and "action_mask" in data["observations"]:
        data["action_masks"] = data["observations"]["action_mask"].astype(bool)
        data["next_action_masks"] = data["next_observations"]["action_mask"].astype(bool)
    return data
