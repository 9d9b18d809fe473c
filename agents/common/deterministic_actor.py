"""What DDPG and TD3 share: a deterministic actor mu(s) explored with noise (one OU process
per env copy when batched, uniform actions while warming up), replay, and gradient steps on
the env-step schedule."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from testbed.agents.common.continuous import (
    due_updates,
    store,
    store_batch,
    uniform_unit_action,
    warmup_or,
)
from testbed.agents.common.nets import as_tensor
from testbed.agents.common.spaces import to_vector, to_vectors


class NoisyDeterministicActor:
    """Mixin. The learner sets `config` (learning_starts, train_freq, gradient_steps,
    batch_size), `observation_space`, `scaler` (ActionScaler), `actor`, `noise`
    (ExplorationNoise), `buffer`, `her` (a HindsightRelabeller or None), `steps`, `_updated`,
    and defines `_gradient_step(batch)`."""

    config: Any
    observation_space: Any
    steps: int
    _updated: int

    def reset(self, seed: int | None = None) -> None:
        self.noise.reset()  # act() is deterministic; the seed is not needed

    @torch.no_grad()
    def _mu(self, observation: Any) -> torch.Tensor:
        return self.actor(as_tensor(to_vector(self.observation_space, observation)))

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.ndarray:
        """The noise-free deterministic action mu(s), in env units."""
        return self.scaler.to_env(self._mu(observation).numpy())

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> np.ndarray:
        """Uniform random during warm-up, then mu(s) + noise (clipped to the bounds)."""
        if self.steps < self.config.learning_starts:
            return self.scaler.to_env(uniform_unit_action(self.scaler.dim).numpy())
        unit = (self._mu(observation) + self.noise()).clamp(-1.0, 1.0)
        return self.scaler.to_env(unit.numpy())

    @torch.no_grad()
    def explore_batch(
        self, observations: Any, action_masks: np.ndarray | None = None
    ) -> np.ndarray:
        """Actions (N, d) for N stacked observations: one actor forward, noise per row (one
        OU process per copy), uniform rows while before `learning_starts`."""
        obs = torch.from_numpy(to_vectors(self.observation_space, observations))
        n = len(obs)
        unit = warmup_or(
            lambda: (self.actor(obs) + self.noise.batch(n)).clamp(-1.0, 1.0),
            n,
            self.scaler.dim,
            self.steps,
            self.config.learning_starts,
        )
        return self.scaler.to_env_batch(unit.numpy())

    def observe(self, transition: dict[str, Any]) -> None:
        store(self.buffer, self.observation_space, self.scaler, transition, self.her)
        self.steps += 1

    def observe_batch(self, batch: Any) -> None:
        """Record one transition per copy (a `TransitionBatch`); restart the OU noise of the
        copies whose episode ended."""
        store_batch(self.buffer, self.observation_space, self.scaler, batch, self.her)
        self.steps += len(batch)
        self.noise.reset_rows(np.asarray(batch.terminated) | np.asarray(batch.truncated))

    def update(self) -> dict[str, float]:
        """`gradient_steps` minibatch steps for every update step (t >= learning_starts,
        t % train_freq == 0) among the env steps t observed since the last call; the last
        step's metrics, or {}."""
        c = self.config
        due = due_updates(self._updated, self.steps, c.learning_starts, c.train_freq)
        self._updated = self.steps
        metrics: dict[str, float] = {}
        for _ in range(due * c.gradient_steps):
            metrics = self._gradient_step(self.buffer.sample(c.batch_size))
        return metrics

    def _gradient_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        raise NotImplementedError
