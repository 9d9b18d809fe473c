"""Hindsight experience replay (Andrychowicz et al. 2017, "Hindsight Experience Replay",
NeurIPS): the relabelling that the off-policy learners' `her:` option adds to their replay.

A goal-conditioned env observes `{"observation", "achieved_goal", "desired_goal"}` and pays a
sparse reward for reaching the desired goal. HER keeps each episode's steps until it ends,
then stores every step twice over: once with the goal the episode had, and `k` more times
with a goal the episode did reach (an `achieved_goal` of a later step), so that failed
episodes still teach how to reach *some* goal. Goals for step t (of an episode of T steps,
next achieved goals ag_1 .. ag_T) by `strategy`:

- future:  ag_j, j uniform in t+1 .. T (the paper's best; SB3's default);
- final:   ag_T;
- episode: ag_j, j uniform in 1 .. T.

The relabelled reward is the sparse one of gymnasium-robotics and the bit-flipping task,
r = 0 if ||ag_{t+1} - g|| <= distance_threshold else -1, and the relabelled step terminates
when it succeeds if `terminate_on_success` (bit flipping ends on success; Fetch tasks do
not, so there set it false: relabelled steps then keep the step's own termination).

Steps are kept per env copy (vectorized training), and an episode is relabelled when it ends
(terminated or truncated); the steps of an episode cut by the training budget are dropped.
Goal draws use torch's global RNG, so seeded runs relabel alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from pydantic import ConfigDict

from testbed.agents.common.spaces import goal_parts, goal_vector, is_goal_space

STRATEGIES = ("future", "final", "episode")


@dataclass(frozen=True)
class HERConfig:
    """The `her:` block of an off-policy learner (e.g. `her: {strategy: future, k: 4}`)."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    strategy: str = "future"
    """Which achieved goals replace the desired one: 'future', 'final' or 'episode'."""
    k: int = 4
    """Relabelled copies stored per real step (the paper's k; 4 = 80 % of rows relabelled)."""
    distance_threshold: float = 0.05
    """A goal counts as reached when ||achieved - goal|| is at most this (bit flipping: any
    value below 1 means equality)."""
    terminate_on_success: bool = True
    """A relabelled step that reaches its goal ends the episode (true for bit flipping; false
    for tasks that never terminate, e.g. FetchReach)."""


def check_her(config: HERConfig, observation_space: spaces.Space, n_step: int = 1) -> None:
    """Clear errors for a `her:` block that cannot work with this env or learner."""
    if config.strategy not in STRATEGIES:
        raise ValueError(f"her.strategy must be one of {STRATEGIES}, got {config.strategy!r}")
    if config.k < 1:
        raise ValueError(f"her.k must be >= 1, got {config.k}")
    if config.distance_threshold < 0:
        raise ValueError(f"her.distance_threshold must be >= 0, got {config.distance_threshold}")
    if not is_goal_space(observation_space):
        raise ValueError(
            "her: needs a goal-conditioned Dict observation (observation, achieved_goal, "
            f"desired_goal), got {observation_space}"
        )
    if n_step != 1:
        raise ValueError(f"her: works with 1-step returns only (n_step: 1), got {n_step}")


def make_relabeller(
    config: HERConfig | None, observation_space: spaces.Space, n_step: int = 1
) -> HindsightRelabeller | None:
    """The relabeller of a learner's `her:` block (checked), or None without one."""
    if config is None:
        return None
    check_her(config, observation_space, n_step)
    return HindsightRelabeller(config, observation_space)


def sparse_reward(achieved: np.ndarray, goal: np.ndarray, threshold: float) -> np.ndarray:
    """0 where ||achieved - goal|| <= threshold, else -1 (rows on axis 0)."""
    distance = np.linalg.norm(achieved - goal, axis=-1)
    return np.where(distance > threshold, -1.0, 0.0).astype(np.float32)


class HindsightRelabeller:
    """Collects each env copy's episode and returns its rows, real and relabelled, when the
    episode ends (`push`)."""

    def __init__(self, config: HERConfig, observation_space: spaces.Dict):
        self.config = config
        self.space = observation_space
        self.obs_len, self.goal_len = goal_parts(observation_space)
        self.episodes: dict[int, list[dict[str, Any]]] = {}

    def _goal(self, observation: dict[str, Any], key: str) -> np.ndarray:
        flat = spaces.flatten(self.space.spaces[key], observation[key])
        return np.asarray(flat, np.float32)

    def push(self, copy: int, step: dict[str, Any]) -> dict[str, np.ndarray] | None:
        """Add copy `copy`'s step: obs and next_obs (goal dicts), action (as the buffer keeps
        it), reward, cost, terminated, truncated, next_action_mask (or None). When the
        episode ends, the rows to store: obs and next_obs ([observation, goal] vectors),
        action, reward, cost, done, next_action_mask (None if no step had a mask)."""
        self.episodes.setdefault(copy, []).append(
            {
                "obs": goal_vector(self.space, step["obs"])[: self.obs_len],
                "next_obs": goal_vector(self.space, step["next_obs"])[: self.obs_len],
                "goal": self._goal(step["obs"], "desired_goal"),
                "next_achieved": self._goal(step["next_obs"], "achieved_goal"),
                "action": np.asarray(step["action"]),
                "reward": float(step["reward"]),
                "cost": float(step.get("cost", 0.0)),
                "terminated": bool(step["terminated"]),
                "next_action_mask": step.get("next_action_mask"),
            }
        )
        if not (step["terminated"] or step["truncated"]):
            return None
        return self.relabel(self.episodes.pop(copy))

    def drop(self) -> None:
        """Forget unfinished episodes (e.g. after loading a checkpoint)."""
        self.episodes.clear()

    def relabel(self, episode: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        """The episode's real rows followed by `k` relabelled rows per step."""
        cfg = self.config
        T = len(episode)
        obs = np.stack([s["obs"] for s in episode])
        next_obs = np.stack([s["next_obs"] for s in episode])
        goals = np.stack([s["goal"] for s in episode])
        achieved = np.stack([s["next_achieved"] for s in episode])
        actions = np.stack([s["action"] for s in episode])
        rewards = np.array([s["reward"] for s in episode], np.float32)
        costs = np.array([s["cost"] for s in episode], np.float32)
        terminated = np.array([s["terminated"] for s in episode], bool)
        masks = [s["next_action_mask"] for s in episode]

        t = np.repeat(np.arange(T), cfg.k)  # the step each relabelled row copies
        if cfg.strategy == "final":
            j = np.full(t.size, T - 1)
        elif cfg.strategy == "episode":
            j = torch.randint(T, (t.size,)).numpy()
        else:  # future: a later (or the same) step's next achieved goal
            j = t + (torch.rand(t.size).numpy() * (T - t)).astype(np.int64)
        new_goals = achieved[j]
        new_rewards = sparse_reward(achieved[t], new_goals, cfg.distance_threshold)
        new_done = new_rewards == 0.0 if cfg.terminate_on_success else terminated[t]

        index = np.concatenate([np.arange(T), t])
        all_goals = np.concatenate([goals, new_goals])
        rows = {
            "obs": np.concatenate([obs[index], all_goals], axis=1),
            "next_obs": np.concatenate([next_obs[index], all_goals], axis=1),
            "action": actions[index],
            "reward": np.concatenate([rewards, new_rewards]),
            "cost": costs[index],
            "done": np.concatenate([terminated, new_done]),
            "next_action_mask": None,
        }
        if any(m is not None for m in masks):
            width = next(len(m) for m in masks if m is not None)
            filled = np.stack([np.ones(width, bool) if m is None else np.asarray(m, bool)
                               for m in masks])  # fmt: skip
            rows["next_action_mask"] = filled[index]
        return rows
