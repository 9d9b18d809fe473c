"""Pieces the value-based learners share: the epsilon schedule, epsilon-greedy action choice
(one observation, or N stacked ones from N env copies), n-step return accumulation (one
accumulator per copy), a replay buffer that keeps each row's bootstrap discount, and the
update schedule counted in env steps.

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


def linear_epsilons(start: float, end: float, decay_steps: int, step: int, n: int) -> np.ndarray:
    """`linear_epsilon` of env steps step, step + 1, ..., step + n - 1 (row i of a vector step
    that starts at env step `step` is env step step + i)."""
    return np.array([linear_epsilon(start, end, decay_steps, step + i) for i in range(n)])


def epsilon_greedy_batch(
    values: Callable[[], np.ndarray],
    n_actions: int,
    epsilons: np.ndarray,
    masks: np.ndarray | None,
) -> np.ndarray:
    """`epsilon_greedy` for N rows at once: row i explores with probability epsilons[i] (a
    uniform legal action), else takes its legal argmax of `values()` (N, n_actions), ties
    broken uniformly. `values` runs once for all rows, and only when some row is greedy.
    Returns 0-based int64 actions (N,)."""
    n = len(epsilons)
    legal = (
        np.ones((n, n_actions), bool)
        if masks is None
        else np.asarray(masks, bool).reshape(n, n_actions)
    )
    if not legal.any(axis=1).all():
        raise ValueError("action mask allows no action")
    draws = torch.rand(n, n_actions + 1).numpy()
    explore = draws[:, 0] < np.asarray(epsilons)
    scores = draws[:, 1:]  # argmax of uniform scores over a set: a uniform member of it
    candidates = legal
    if not explore.all():
        q = np.where(legal, np.asarray(values(), np.float64).reshape(n, n_actions), -np.inf)
        best = legal & (q == q.max(axis=1, keepdims=True))
        candidates = np.where(explore[:, None], legal, best)
    return np.where(candidates, scores, -1.0).argmax(axis=1).astype(np.int64)


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

    def add_discounted_batch(self, rows: dict[str, np.ndarray]) -> None:
        """`add_discounted` of N rows given as arrays with the row axis first."""
        n = len(rows["reward"])
        index, first = self.slots(n)
        self.discounts[index] = rows["discount"][first:]
        self.add_batch(
            rows["obs"],
            rows["action"],
            rows["reward"],
            np.zeros(n, np.float32),
            rows["next_obs"],
            rows["done"],
            rows["next_action_mask"],
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


def replay_steps(observation_space: Any, batch: Any, action_start: int) -> dict[str, np.ndarray]:
    """A `TransitionBatch` (N rows) as n-step accumulator steps in arrays: flat obs and
    next_obs (N, dim), 0-based int64 actions, rewards, done (= terminated), truncated and the
    next masks (N, n) or None."""
    from testbed.agents.common.spaces import to_vectors

    n = len(batch)
    return {
        "obs": to_vectors(observation_space, batch.obs),
        "action": np.asarray(batch.action, np.int64).reshape(n) - action_start,
        "reward": np.asarray(batch.reward, np.float32).reshape(n),
        "next_obs": to_vectors(observation_space, batch.next_obs),
        "done": np.asarray(batch.terminated, bool).reshape(n),
        "truncated": np.asarray(batch.truncated, bool).reshape(n),
        "next_action_mask": (
            None if batch.next_action_mask is None else np.asarray(batch.next_action_mask, bool)
        ),
    }


class PerCopyNStep:
    """One `NStepAccumulator` per env copy (created as copies appear), so an n-step return
    never mixes copies: row c of every batch is copy c's next step."""

    def __init__(self, n: int, gamma: float):
        if n < 1:
            raise ValueError(f"n_step must be >= 1, got {n}")
        self.n, self.gamma = n, gamma
        self.copies: list[NStepAccumulator] = []

    def store(self, buffer: DiscountedReplayBuffer, steps: dict[str, np.ndarray]) -> None:
        """Push row c of `steps` (from `replay_steps`) to copy c's accumulator and add the
        completed n-step rows to `buffer`. With n = 1 every row is complete (R = r, discount
        gamma): one vectorised write."""
        rows = len(steps["reward"])
        if self.n == 1:
            buffer.add_discounted_batch({**steps, "discount": np.full(rows, self.gamma)})
            return
        while len(self.copies) < rows:
            self.copies.append(NStepAccumulator(self.n, self.gamma))
        masks = steps["next_action_mask"]
        for c in range(rows):
            step = {  # Python scalars: the n-step sums round as in the single-step path
                "obs": steps["obs"][c],
                "action": int(steps["action"][c]),
                "reward": float(steps["reward"][c]),
                "next_obs": steps["next_obs"][c],
                "done": bool(steps["done"][c]),
                "truncated": bool(steps["truncated"][c]),
                "next_action_mask": None if masks is None else masks[c],
            }
            for row in self.copies[c].push(step):
                buffer.add_discounted(row)


def catch_up(
    config: Any,
    done: int,
    steps: int,
    buffer: ReplayBuffer,
    target_update: Callable[[], None],
    gradient_step: Callable[[dict[str, torch.Tensor]], tuple[float, float]],
) -> dict[str, float] | None:
    """Run the updates due at env steps done + 1, ..., steps, in order, as single-step training
    runs them after each step t: the target update when t % target_update_interval == 0, then
    `scheduled_gradient_steps` at t. One observed step (done = steps - 1) is the single-step
    schedule; a vector step of N copies catches up N env steps. Mean loss and Q over all
    gradient steps run, or None."""
    runs = []
    for t in range(done + 1, steps + 1):
        if t % config.target_update_interval == 0:
            target_update()
        stats = scheduled_gradient_steps(config, t, buffer, gradient_step)
        if stats is not None:
            runs.append(stats)
    if not runs:
        return None
    return {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
