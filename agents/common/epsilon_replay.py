"""What DQN and C51 share: epsilon-greedy acting on Q (one state or N stacked), replay with
n-step returns (per env copy when batched) or hindsight relabelling (`her`), and updates on
the env-step schedule."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from testbed.agents.common.nets import soft_update
from testbed.agents.common.spaces import to_vectors
from testbed.agents.common.value import (
    catch_up,
    epsilon_greedy,
    epsilon_greedy_batch,
    greedy,
    linear_epsilon,
    linear_epsilons,
    replay_step,
    replay_steps,
)


class EpsilonGreedyReplay:
    """Mixin. The learner sets `config` (epsilon_*, tau, anneal_steps, learning_rate and the
    update schedule), `observation_space`, `n_actions`, `action_start`, `buffer`, `n_step`,
    `copy_n_step`, `target`, `optimizer`, `steps`, `_updated`, and defines `_online()` (the
    network the target follows), `_q_values(observation)`, `_q_batch(obs)` and
    `_gradient_step(batch) -> (loss, mean Q)`. A learner with `her` set (a
    `HindsightRelabeller`) stores whole relabelled episodes instead of n-step rows."""

    her: Any = None

    config: Any
    observation_space: Any
    n_actions: int
    action_start: int
    steps: int
    _updated: int
    target: nn.Module
    optimizer: torch.optim.Optimizer

    @property
    def epsilon(self) -> float:
        cfg = self.config
        return linear_epsilon(
            cfg.epsilon_start, cfg.epsilon_end, cfg.epsilon_decay_steps, self.steps
        )

    def reset(self, seed: int | None = None) -> None:
        """Greedy evaluation needs no randomness; exploration uses torch's global RNG."""

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        return np.int64(self.action_start + greedy(self._q_values(observation), action_mask))

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        action = epsilon_greedy(
            lambda: self._q_values(observation), self.n_actions, self.epsilon, action_mask
        )
        return np.int64(self.action_start + action)

    def explore_batch(
        self, observations: Any, action_masks: np.ndarray | None = None
    ) -> np.ndarray:
        """Epsilon-greedy actions (N,) for N stacked observations: one forward pass; row i
        explores with the epsilon of env step `steps + i`."""
        cfg = self.config
        obs = torch.from_numpy(to_vectors(self.observation_space, observations))
        epsilons = linear_epsilons(
            cfg.epsilon_start, cfg.epsilon_end, cfg.epsilon_decay_steps, self.steps, len(obs)
        )
        actions = epsilon_greedy_batch(
            lambda: self._q_batch(obs), self.n_actions, epsilons, action_masks
        )
        return self.action_start + actions

    def observe(self, transition: dict[str, Any]) -> None:
        self.steps += 1
        if self.her is not None:
            self._store_her(0, transition)
            return
        step = replay_step(self.observation_space, transition, self.action_start)
        for row in self.n_step.push(step):
            self.buffer.add_discounted(row)

    def observe_batch(self, batch: Any) -> None:
        """Record one transition per copy (a `TransitionBatch`); n-step returns per copy."""
        self.steps += len(batch)
        if self.her is not None:
            for c in range(len(batch)):
                self._store_her(c, batch.row(c))
            return
        self.copy_n_step.store(
            self.buffer, replay_steps(self.observation_space, batch, self.action_start)
        )

    def _store_her(self, copy: int, transition: dict[str, Any]) -> None:
        action = int(transition["action"]) - self.action_start
        rows = self.her.push(copy, {**transition, "action": action})
        if rows is not None:
            gamma = np.full(len(rows["reward"]), self.config.gamma, np.float32)
            self.buffer.add_discounted_batch({**rows, "discount": gamma})

    def update(self) -> dict[str, float]:
        """The target updates and gradient steps due at the env steps observed since the last
        call (one after `observe`, N after `observe_batch`); mean metrics, or {}."""
        cfg = self.config
        if cfg.anneal_steps > 0:
            rate = cfg.learning_rate * max(0.0, 1.0 - self.steps / cfg.anneal_steps)
            for group in self.optimizer.param_groups:
                group["lr"] = rate
        stats = catch_up(
            cfg,
            self._updated,
            self.steps,
            self.buffer,
            lambda: soft_update(self.target, self._online(), cfg.tau),
            self._gradient_step,
        )
        self._updated = self.steps
        return {} if stats is None else {**stats, "epsilon": self.epsilon}

    # provided by the learner
    def _online(self) -> nn.Module:
        raise NotImplementedError

    def _q_values(self, observation: Any) -> np.ndarray:
        raise NotImplementedError

    def _q_batch(self, obs: torch.Tensor) -> np.ndarray:
        raise NotImplementedError

    def _gradient_step(self, batch: dict[str, torch.Tensor]) -> tuple[float, float]:
        raise NotImplementedError
