"""A uniform replay buffer of fixed capacity over flat numpy arrays.

Rows are added one at a time (`add`) or N at a time (`add_batch`, one row per env copy, the
same contents as N `add` calls in row order). Sampling uses torch's global RNG, so a seeded
training run replays the same minibatches.
"""

from __future__ import annotations

import numpy as np
import torch


class ReplayBuffer:
    """Ring buffer of (obs, action, reward, cost, next_obs, done, next_mask) rows.

    `done` is 1 only on termination (a truncated episode still bootstraps from next_obs).
    """

    def __init__(
        self,
        capacity: int,
        obs_dim: int,
        action_shape: tuple[int, ...],
        action_dtype: type = np.float32,
        mask_dim: int | None = None,
    ):
        self.capacity = int(capacity)
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros((capacity, *action_shape), action_dtype)
        self.rewards = np.zeros(capacity, np.float32)
        self.costs = np.zeros(capacity, np.float32)
        self.dones = np.zeros(capacity, np.float32)
        self.next_masks = None if mask_dim is None else np.ones((capacity, mask_dim), bool)
        self.size = 0
        self._next = 0

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: np.ndarray,
        action: np.ndarray | int | float,
        reward: float,
        cost: float,
        next_obs: np.ndarray,
        done: bool,
        next_mask: np.ndarray | None = None,
    ) -> None:
        i = self._next
        self.obs[i] = obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.costs[i] = cost
        self.next_obs[i] = next_obs
        self.dones[i] = float(done)
        if self.next_masks is not None:
            self.next_masks[i] = True if next_mask is None else np.asarray(next_mask, bool)
        self._next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def slots(self, n: int) -> tuple[np.ndarray, int]:
        """Where `add_batch` of n rows writes: (buffer indices, first row kept). Rows beyond
        the capacity overwrite each other exactly as n single `add` calls would, so only
        the last `capacity` rows are written."""
        first = max(0, n - self.capacity)
        return (self._next + first + np.arange(n - first)) % self.capacity, first

    def add_batch(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        costs: np.ndarray,
        next_obs: np.ndarray,
        dones: np.ndarray,
        next_masks: np.ndarray | None = None,
    ) -> None:
        """`add` of N rows at once (arrays with the row axis first), in row order."""
        n = len(rewards)
        index, first = self.slots(n)
        self.obs[index] = obs[first:]
        self.actions[index] = actions[first:]
        self.rewards[index] = rewards[first:]
        self.costs[index] = costs[first:]
        self.next_obs[index] = next_obs[first:]
        self.dones[index] = np.asarray(dones[first:], np.float32)
        if self.next_masks is not None:
            self.next_masks[index] = True if next_masks is None else next_masks[first:]
        self._next = (self._next + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """A uniform minibatch as tensors (actions keep their dtype: int64 or float32)."""
        index = torch.randint(self.size, (batch_size,)).numpy()
        batch = {
            "obs": torch.from_numpy(self.obs[index]),
            "actions": torch.from_numpy(self.actions[index]),
            "rewards": torch.from_numpy(self.rewards[index]),
            "costs": torch.from_numpy(self.costs[index]),
            "next_obs": torch.from_numpy(self.next_obs[index]),
            "dones": torch.from_numpy(self.dones[index]),
        }
        if self.next_masks is not None:
            batch["next_masks"] = torch.from_numpy(self.next_masks[index])
        return batch
