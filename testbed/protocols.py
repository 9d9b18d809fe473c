"""The small contracts agents satisfy structurally (no base class needed).

- `Policy` acts for one PettingZoo agent: `reset(seed)` at the start of every episode, then
  `act(observation, action_mask)` each time that agent must move.
- `Learner` is a Policy that also explores, learns from transitions and saves its weights.
- `OfflineLearner` is a Policy that learns from a dataset (`load_data`, then `update()` per
  gradient step), never acting in an env while it learns.
- `Team` acts for several agents at once: {agent: observation} -> {agent: action}. Tournament
  entrants and audit subjects are Teams; `PolicyTeam` turns per-agent policies into one.

Agents are built as `Class(observation_space, action_space, config)`, where `config` is an
instance of the class's frozen `Config` dataclass (see testbed.registry.make_agent).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Policy(Protocol):
    def reset(self, seed: int | None = None) -> None:
        """Start a new episode; all randomness of the policy derives from `seed`."""

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        """Return an action in the agent's action space; honour `action_mask` when given."""


@runtime_checkable
class Learner(Policy, Protocol):
    """A Policy that learns. The training loop, for every step of its agent, calls
    `explore` (the behaviour policy), then `observe(transition)`, then `update()`; the learner
    decides when an update is due (every step, every n steps, when a rollout is full) and
    returns {} when it did nothing. `act` stays the evaluation policy (greedy for value-based
    learners). `state_dict` holds tensors, numbers and strings only, so checkpoints load with
    `torch.load(weights_only=True)`.
    """

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        """The action to take while training (exploration included)."""

    def observe(self, transition: dict[str, Any]) -> None:
        """Record one transition: obs, action, reward, cost, next_obs, terminated, truncated,
        action_mask, next_action_mask (masks None when the env has none)."""

    def update(self) -> dict[str, float]:
        """Learn from what was observed when an update is due; return metrics to log."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class BatchLearner(Learner, Protocol):
    """A Learner that also acts and learns on N copies of its env at once (vectorized
    training, testbed/rollout/vector.py). Per vector step the loop calls `explore_batch` (one
    forward pass for all copies), then `observe_batch` with a `TransitionBatch` (one row per
    copy: arrays with the copy axis first), then `update()`. A joint learner's batched methods
    take and return {agent: array} mappings. The single-transition methods stay: turn-based
    (AEC) games and self-play train through them. An optional class attribute
    `default_num_envs` (default 1) is the copies a train stage steps when it does not say; the
    last vector step of a budget may cover fewer copies than the others."""

    def explore_batch(self, observations: Any, action_masks: Any = None) -> Any:
        """Actions (N, ...) for observations (N, ...) and masks (N, n) or None."""

    def observe_batch(self, batch: Any) -> None:
        """Record N transitions, one per copy (a `TransitionBatch`)."""


@runtime_checkable
class OfflineLearner(Policy, Protocol):
    """A Policy that learns from a fixed dataset, without acting in an env (behaviour cloning,
    offline RL). A train stage with `dataset:` calls `load_data` once with the transition
    arrays of the learner's agent (testbed/datasets/transitions.py: observations, actions,
    rewards, costs, next_observations, terminations, truncations, ...), then `update()` once
    per gradient step of its budget. `state_dict` as for `Learner`."""

    def load_data(self, data: Any) -> None:
        """Take the dataset (a mapping of arrays, one row per transition)."""

    def update(self) -> dict[str, float]:
        """One gradient step on a minibatch of the dataset; metrics to log."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class Team(Protocol):
    def reset(self, seed: int | None = None) -> None: ...

    def act(
        self,
        observations: dict[str, Any],
        action_masks: dict[str, np.ndarray | None],
    ) -> dict[str, Any]:
        """Return one action for every agent in `observations`."""
