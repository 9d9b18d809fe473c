"""Pieces the value-based learners share: the epsilon schedule, epsilon-greedy action choice,
n-step return accumulation and a replay buffer that keeps each row's bootstrap discount.

All randomness comes from torch's global RNG, so a seeded run explores the same way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from testbed.agents.common.replay import ReplayBuffer
from testbed.agents.common.spaces import masked_argmax


def linear_epsilon(start: float, end: float, decay_steps: int, step: int) -> float:
    """epsilon falls linearly from `start` to `end` over `decay_steps` env steps, then stays."""
    if decay_steps <= 0:
        return end
    fraction = min(1.0, step / decay_steps)
    return start + fraction * (end - start)


def legal_actions(n_actions: int, mask: np.ndarray | None) -> np.ndarray:
    """Indices of the legal actions (all of them without a mask)."""
    if mask is None:
        return np.arange(n_actions)
    legal = np.flatnonzero(np.asarray(mask, dtype=bool))
    if legal.size == 0:
        raise ValueError("action mask allows no action")
    return legal


def random_action(n_actions: int, mask: np.ndarray | None) -> int:
    """A uniform legal action drawn with torch's global RNG."""
    legal = legal_actions(n_actions, mask)
    return int(legal[int(torch.randint(legal.size, (1,)))])


def epsilon_greedy(
    values: Callable[[], np.ndarray], n_actions: int, epsilon: float, mask: np.ndarray | None
) -> int:
    """With probability epsilon a uniform legal action, else the legal argmax of `values()`
    (ties broken uniformly, so untrained tables do not always pick the first action).
    `values` is only called when the greedy branch is taken (saves a network forward)."""
    if float(torch.rand(())) < epsilon:
        return random_action(n_actions, mask)
    q = values()
    legal = legal_actions(n_actions, mask)
    best = q[legal].max()
    ties = legal[q[legal] == best]
    if ties.size == 1:
        return int(ties[0])
    return int(ties[int(torch.randint(ties.size, (1,)))])


def masked_values(values: torch.Tensor, masks: torch.Tensor | None) -> torch.Tensor:
    """Q-values with illegal actions pushed to a large negative number (finite, so a value
    multiplied by a zero `not done` stays 0); rows with no legal action stay unmasked."""
    if masks is None:
        return values
    masks = masks | ~masks.any(dim=-1, keepdim=True)
    return values.masked_fill(~masks, -1e8)


def greedy(values: np.ndarray, mask: np.ndarray | None) -> np.int64:
    """The evaluation action: the first legal argmax."""
    return np.int64(masked_argmax(values, mask))


class NStepAccumulator:
    """Turns 1-step transitions into n-step ones (Sutton 1988; Hessel et al. 2018):
    R = r_t + gamma r_{t+1} + ... + gamma^{k-1} r_{t+k-1}, bootstrapped with gamma^k from
    s_{t+k}, where k = n except at episode ends (termination: no bootstrap; truncation:
    bootstrap from the last next state with the shorter k).
    """

    def __init__(self, n: int, gamma: float):
        if n < 1:
            raise ValueError(f"n_step must be >= 1, got {n}")
        self.n = n
        self.gamma = gamma
        self.window: deque[dict[str, Any]] = deque()

    def push(self, transition: dict[str, Any]) -> list[dict[str, Any]]:
        """Add one step; return the n-step transitions that are now complete, each a dict
        with obs, action, reward (the n-step sum), next_obs, done, discount, next_action_mask."""
        self.window.append(transition)
        ready = []
        ended = transition["done"] or transition["truncated"]
        if len(self.window) == self.n:
            ready.append(self._head())
            self.window.popleft()
        if ended:
            while self.window:
                ready.append(self._head())
                self.window.popleft()
        return ready

    def _head(self) -> dict[str, Any]:
        reward, discount = 0.0, 1.0
        for step in self.window:
            reward += discount * step["reward"]
            discount *= self.gamma
        first, last = self.window[0], self.window[-1]
        return {
            "obs": first["obs"],
            "action": first["action"],
            "reward": reward,
            "next_obs": last["next_obs"],
            "done": last["done"],
            "discount": discount,
            "next_action_mask": last["next_action_mask"],
        }


class DiscountedReplayBuffer(ReplayBuffer):
    """ReplayBuffer whose rows also keep their bootstrap discount gamma^k (n-step rows near
    a truncation have k < n). Sampling uses torch's global RNG like its parent."""

    def __init__(self, capacity: int, obs_dim: int, n_actions: int):
        super().__init__(capacity, obs_dim, (), np.int64, mask_dim=n_actions)
        self.discounts = np.zeros(capacity, np.float32)

    def add_discounted(self, row: dict[str, Any]) -> None:
        self.discounts[self._next] = row["discount"]
        self.add(
            row["obs"],
            row["action"],
            row["reward"],
            0.0,
            row["next_obs"],
            row["done"],
            row["next_action_mask"],
        )

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        index = torch.randint(self.size, (batch_size,)).numpy()
        return {
            "obs": torch.from_numpy(self.obs[index]),
            "actions": torch.from_numpy(self.actions[index]),
            "rewards": torch.from_numpy(self.rewards[index]),
            "next_obs": torch.from_numpy(self.next_obs[index]),
            "dones": torch.from_numpy(self.dones[index]),
            "discounts": torch.from_numpy(self.discounts[index]),
            "next_masks": torch.from_numpy(self.next_masks[index]),
        }


def replay_step(
    observation_space: Any, transition: dict[str, Any], action_start: int
) -> dict[str, Any]:
    """One harness transition as an n-step accumulator step (flat obs, 0-based action)."""
    from testbed.agents.common.spaces import to_vector

    return {
        "obs": to_vector(observation_space, transition["obs"]),
        "action": int(transition["action"]) - action_start,
        "reward": float(transition["reward"]),
        "next_obs": to_vector(observation_space, transition["next_obs"]),
        "done": bool(transition["terminated"]),
        "truncated": bool(transition["truncated"]),
        "next_action_mask": transition.get("next_action_mask"),
    }


def scheduled_gradient_steps(
    config: Any,
    steps: int,
    buffer: ReplayBuffer,
    gradient_step: Callable[[dict[str, torch.Tensor]], tuple[float, float]],
) -> dict[str, float] | None:
    """Run `config.gradient_steps` minibatch steps when training is due (after
    `learning_starts`, every `train_freq` steps, with a full batch); mean loss and Q, or None."""
    if steps <= config.learning_starts or steps % config.train_freq != 0:
        return None
    if len(buffer) < config.batch_size:
        return None
    losses, q_means = [], []
    for _ in range(config.gradient_steps):
        loss, q_mean = gradient_step(buffer.sample(config.batch_size))
        losses.append(loss)
        q_means.append(q_mean)
    return {"loss": float(np.mean(losses)), "q_mean": float(np.mean(q_means))}
