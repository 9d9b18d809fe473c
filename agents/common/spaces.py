"""Turn PettingZoo observations into flat float vectors and check the spaces an agent needs.

Classic games publish `{"observation": ..., "action_mask": ...}` dicts; learners read the
`observation` part (the harness hands the mask separately). Goal-conditioned envs publish
`{"observation", "achieved_goal", "desired_goal"}` dicts (the gymnasium-robotics convention);
learners read `observation` followed by `desired_goal` (see `goal_parts`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")


def is_goal_space(space: spaces.Space) -> bool:
    """A goal-conditioned Dict space (observation, achieved_goal, desired_goal)."""
    return isinstance(space, spaces.Dict) and all(k in space.spaces for k in GOAL_KEYS)


def goal_parts(space: spaces.Dict) -> tuple[int, int]:
    """(observation length, goal length) of a goal-conditioned space's flat vectors."""
    observation = int(spaces.flatdim(space.spaces["observation"]))
    goal = int(spaces.flatdim(space.spaces["desired_goal"]))
    if goal != int(spaces.flatdim(space.spaces["achieved_goal"])):
        raise ValueError("achieved_goal and desired_goal must have the same size")
    return observation, goal


def goal_vector(space: spaces.Dict, observation: Any, goal: np.ndarray | None = None) -> np.ndarray:
    """[observation, goal] as one flat float32 vector (goal: the desired one unless given)."""
    inner = spaces.flatten(space.spaces["observation"], observation["observation"])
    if goal is None:
        goal = spaces.flatten(space.spaces["desired_goal"], observation["desired_goal"])
    return np.concatenate([np.asarray(inner, np.float32), np.asarray(goal, np.float32)])


def inner_space(space: spaces.Space) -> spaces.Space:
    """The observation part of a masked-dict space, else the space itself."""
    if isinstance(space, spaces.Dict) and "observation" in space.spaces:
        return space.spaces["observation"]
    return space


def obs_dim(space: spaces.Space) -> int:
    """Length of the flat vector `to_vector` returns (Discrete becomes one-hot)."""
    if is_goal_space(space):
        return sum(goal_parts(space))
    return int(spaces.flatdim(inner_space(space)))


def to_vector(space: spaces.Space, observation: Any) -> np.ndarray:
    """A flat float32 vector of `observation` (one-hot for Discrete; [observation,
    desired_goal] for a goal-conditioned dict)."""
    if is_goal_space(space):
        return goal_vector(space, observation)
    if isinstance(observation, dict) and "observation" in observation:
        observation = observation["observation"]
    inner = inner_space(space)
    if isinstance(inner, spaces.Box):
        return np.asarray(observation, dtype=np.float32).reshape(-1)
    return np.asarray(spaces.flatten(inner, observation), dtype=np.float32)


def to_vectors(space: spaces.Space, observations: Any) -> np.ndarray:
    """`to_vector` of N observations stacked on axis 0: an (N, obs_dim) float32 array.

    Box rows are flattened, Discrete rows one-hot encoded without a Python loop; other spaces
    go row by row through `to_vector`. A masked dict of stacked arrays is read through its
    "observation" entry. Goal-conditioned dicts (stacked, or one per row) become
    [observation, desired_goal] rows."""
    if is_goal_space(space):
        if isinstance(observations, dict):
            n = len(observations["desired_goal"])
            observations = [{k: observations[k][i] for k in GOAL_KEYS} for i in range(n)]
        rows = [goal_vector(space, o) for o in observations]
        return np.array(rows, np.float32).reshape(len(rows), obs_dim(space))
    if isinstance(observations, dict) and "observation" in observations:
        observations = observations["observation"]
    inner = inner_space(space)
    # rows that still carry their action masks (single-env observations) go one by one
    fast = not (
        isinstance(observations, (list, tuple)) and any(isinstance(o, dict) for o in observations)
    )
    if fast and isinstance(inner, spaces.Box):
        rows = np.asarray(observations, dtype=np.float32)
        return rows.reshape(rows.shape[0], int(np.prod(inner.shape)))
    if fast and isinstance(inner, spaces.Discrete):
        index = np.asarray(observations, dtype=np.int64).reshape(-1) - int(inner.start)
        one_hot = np.zeros((index.size, int(inner.n)), np.float32)
        one_hot[np.arange(index.size), index] = 1.0
        return one_hot
    rows = [to_vector(space, o) for o in observations]
    return np.array(rows, np.float32).reshape(len(rows), obs_dim(space))


def require_discrete(space: spaces.Space, algorithm: str) -> int:
    """The number of actions of a Discrete space; a clear error for any other space."""
    if not isinstance(space, spaces.Discrete):
        raise ValueError(f"{algorithm} needs a Discrete action space, got {space}")
    return int(space.n)


def require_box(space: spaces.Space, algorithm: str) -> spaces.Box:
    """A bounded 1-D Box action space; a clear error for any other space."""
    if not isinstance(space, spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"{algorithm} needs a 1-D Box action space, got {space}")
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ValueError(f"{algorithm} needs finite action bounds, got {space}")
    return space


def masked_argmax(values: np.ndarray, mask: np.ndarray | None) -> int:
    """argmax over legal actions (all actions when `mask` is None)."""
    if mask is None:
        return int(np.argmax(values))
    legal = np.asarray(mask, dtype=bool)
    if not legal.any():
        raise ValueError("action mask allows no action")
    return int(np.argmax(np.where(legal, values, -np.inf)))
