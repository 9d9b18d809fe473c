"""Vector envs: N copies of a PettingZoo ParallelEnv stepped together, for training.

A `VecEnv` holds `num_envs` copies of one env. Every agent of `possible_agents` acts in every
copy at every step until that copy's episode ends (envs whose agents leave mid-episode train
with one copy); a copy whose episode ended starts its next episode at once (auto-reset), so
every step returns a full batch. Arrays have the copy axis first:

- `reset(seed)` -> `VecObs`: observations `{agent: (N, *obs_shape)}` and action masks
  `{agent: (N, n) bool or None}`;
- `step({agent: (N, *act_shape)})` -> `VecStep`: the next observations (of the next episode
  for copies that were reset), rewards and costs (`infos[a]["cost"]`; float64), terminated,
  truncated `{agent: (N,)}`, `done` (N,) and, for the copies that are done, the last
  observation of the episode that ended (`final`), which is what a learner bootstraps from.

Episode `e` of copy `c` is seeded `copy_seed(seed, c, e)`, so the same root seed and N give
the same episodes whatever the implementation: `SyncVecEnv` (N copies in this process),
`SubprocVecEnv` (copies in worker processes, for slow envs) and the native batched envs of
envs whose dynamics testbed owns (`EnvSpec.vector`; numpy arrays over all copies at once).
`make_vec_env` picks the native one when there is one (`vectorization: native | sync |
subprocess` to choose).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from testbed.seeding import stream_seed

Batch = dict[str, np.ndarray]


def copy_seed(seed: int, copy: int, episode: int) -> int:
    """The seed of episode `episode` of copy `copy` under a run's root `seed`."""
    return stream_seed(seed, f"copy/{copy}", episode)


class AgentsLeft(ValueError):
    """An agent left a copy before its episode ended: vector envs need every agent to act
    until the end (train such envs on one copy)."""


@dataclass
class VecObs:
    """Observations of every copy: {agent: (N, *shape)}, and the legal-action masks."""

    observations: Batch
    action_masks: dict[str, np.ndarray | None]


@dataclass
class VecStep:
    """One step of every copy. Copies with `done` have been reset: `observations` and
    `action_masks` are their next episode's first; `final` holds the last observation (and
    mask) of the episode that ended, for the copies that are done (other rows: undefined)."""

    observations: Batch
    action_masks: dict[str, np.ndarray | None]
    rewards: Batch
    costs: Batch
    terminated: Batch
    truncated: Batch
    done: np.ndarray
    final: VecObs

    def next_observation(self, agent: str) -> np.ndarray:
        """The observation each copy reached this step: the final one where the copy is done."""
        return np.where(
            self.done.reshape(-1, *[1] * (self.observations[agent].ndim - 1)),
            self.final.observations[agent],
            self.observations[agent],
        )

    def next_action_mask(self, agent: str) -> np.ndarray | None:
        mask = self.action_masks.get(agent)
        if mask is None:
            return None
        final = self.final.action_masks.get(agent)
        return np.where(self.done[:, None], final, mask) if final is not None else mask


class VecEnv(Protocol):
    """N copies of one env, stepped together (see the module docstring)."""

    num_envs: int
    possible_agents: list[str]

    def observation_space(self, agent: str) -> Any: ...

    def action_space(self, agent: str) -> Any: ...

    def reset(self, seed: int) -> VecObs: ...

    def step(self, actions: Batch) -> VecStep: ...

    def close(self) -> None: ...


@dataclass
class TransitionBatch:
    """What a batched learner observes for one agent, one row per copy: the observation it
    acted on, its action, what followed (`next_obs` is the observation reached, the final one
    where the episode ended), and the masks (None when the env has none)."""

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    cost: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    action_mask: np.ndarray | None = None
    next_action_mask: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.reward)

    def row(self, index: int) -> dict[str, Any]:
        """One copy's transition as the single-transition dict of `Learner.observe`."""
        return {
            "obs": self.obs[index],
            "action": self.action[index],
            "reward": float(self.reward[index]),
            "cost": float(self.cost[index]),
            "next_obs": self.next_obs[index],
            "terminated": bool(self.terminated[index]),
            "truncated": bool(self.truncated[index]),
            "action_mask": None if self.action_mask is None else self.action_mask[index],
            "next_action_mask": (
                None if self.next_action_mask is None else self.next_action_mask[index]
            ),
        }


# ---------------------------------------------------------------------------------------------
# The generic implementation: N copies of any ParallelEnv in this process


def split_observation(observation: Any) -> tuple[Any, np.ndarray | None]:
    """(observation, action mask) of a PettingZoo observation (masked dicts split)."""
    if isinstance(observation, dict) and "action_mask" in observation:
        return observation.get("observation", observation), np.asarray(
            observation["action_mask"], bool
        )
    return observation, None


class SyncVecEnv:
    """N copies of a ParallelEnv built by `make()`, stepped one after another here."""

    def __init__(
        self,
        make: Callable[[], Any],
        num_envs: int,
        max_steps: int | None = None,
        *,
        first_copy: int = 0,
    ):
        """`first_copy`: the global index of the first copy (a shard of a larger vec env)."""
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        self.first_copy = first_copy
        self.envs = [make() for _ in range(num_envs)]
        self.num_envs = num_envs
        self.possible_agents = list(self.envs[0].possible_agents)
        self.max_steps = max_steps
        self._seed = 0
        self._episodes = [0] * num_envs
        self._lengths = [0] * num_envs

    def observation_space(self, agent: str) -> Any:
        return self.envs[0].observation_space(agent)

    def action_space(self, agent: str) -> Any:
        return self.envs[0].action_space(agent)

    def _reset_copy(self, copy: int) -> dict[str, Any]:
        seed = copy_seed(self._seed, self.first_copy + copy, self._episodes[copy])
        self._episodes[copy] += 1
        self._lengths[copy] = 0
        observations, infos = self.envs[copy].reset(seed=seed)
        return {a: self._with_info_mask(observations[a], infos.get(a)) for a in observations}

    @staticmethod
    def _with_info_mask(observation: Any, info: dict | None) -> tuple[Any, np.ndarray | None]:
        value, mask = split_observation(observation)
        if mask is None and info and "action_mask" in info:
            mask = np.asarray(info["action_mask"], bool)
        return value, mask

    def _complete(self, row: dict[str, Any]) -> dict[str, Any]:
        blank = {
            a: (np.zeros_like(_sample_of(self.observation_space(a))), None)
            for a in self.possible_agents
            if a not in row
        }
        return {**blank, **row}

    def _stack(self, rows: list[dict[str, tuple[Any, np.ndarray | None]]]) -> VecObs:
        observations, masks = {}, {}
        for agent in self.possible_agents:
            observations[agent] = np.stack([np.asarray(r[agent][0]) for r in rows])
            row_masks = [r[agent][1] for r in rows]
            width = next((len(m) for m in row_masks if m is not None), None)
            masks[agent] = (
                None
                if width is None
                else np.stack([np.ones(width, bool) if m is None else m for m in row_masks])
            )
        return VecObs(observations, masks)

    def reset(self, seed: int) -> VecObs:
        self._seed = seed
        self._episodes = [0] * self.num_envs
        rows = [self._reset_copy(c) for c in range(self.num_envs)]
        self._check_agents(rows)
        return self._stack(rows)

    def _check_agents(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if set(row) != set(self.possible_agents):
                raise AgentsLeft(
                    "vectorized training needs every agent to act until the episode ends; "
                    f"this env has {sorted(row)} of {self.possible_agents} (use num_envs: 1)"
                )

    def step(self, actions: Batch) -> VecStep:
        n, agents = self.num_envs, self.possible_agents
        rows, finals = [], []
        rewards = {a: np.zeros(n) for a in agents}
        costs = {a: np.zeros(n) for a in agents}
        terminated = {a: np.zeros(n, bool) for a in agents}
        truncated = {a: np.zeros(n, bool) for a in agents}
        done = np.zeros(n, bool)
        for c, env in enumerate(self.envs):
            observations, reward, term, trunc, infos = env.step({a: actions[a][c] for a in agents})
            self._lengths[c] += 1
            cut = self.max_steps is not None and self._lengths[c] >= self.max_steps
            for a in agents:
                rewards[a][c] = reward.get(a, 0.0)
                costs[a][c] = float((infos.get(a) or {}).get("cost", 0.0))
                terminated[a][c] = bool(term.get(a, False))
                truncated[a][c] = bool(trunc.get(a, False)) or (cut and not terminated[a][c])
            row = {a: self._with_info_mask(observations[a], infos.get(a)) for a in observations}
            ended = (
                not env.agents or cut or all(terminated[a][c] or truncated[a][c] for a in agents)
            )
            if not ended:
                self._check_agents([row])
                finals.append(row)
            else:
                done[c] = True
                finals.append(self._complete(row))  # an agent that left has no last observation
                row = self._reset_copy(c)
            rows.append(row)
        return VecStep(
            *_as_obs(self._stack(rows)),
            rewards,
            costs,
            terminated,
            truncated,
            done,
            self._stack(finals),
        )

    def close(self) -> None:
        for env in self.envs:
            env.close()


def _as_obs(obs: VecObs) -> tuple[Batch, dict[str, np.ndarray | None]]:
    return obs.observations, obs.action_masks


def _sample_of(space: Any) -> np.ndarray:
    value, _ = split_observation(space.sample())
    return np.asarray(value)
