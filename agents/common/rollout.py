"""On-policy pieces shared by the policy-gradient learners: a rollout buffer, GAE, the (clipped)
value loss, and an actor head that gives a Categorical (masks honoured) or a diagonal Gaussian
policy.

GAE (Schulman et al. 2016, "High-Dimensional Continuous Control Using Generalized Advantage
Estimation"): delta_t = r_t + gamma * (1 - terminated_t) * V(s_{t+1}) - V(s_t) and
A_t = delta_t + gamma * lambda * (1 - end_t) * A_{t+1}, where end_t is terminated OR truncated
OR the last step of the rollout. V(s_{t+1}) is evaluated on the stored `next_obs`, so a
truncated episode (time limit) and a rollout cut mid-episode both bootstrap; only a true
termination does not. `gae` works for any per-step signal (rewards, or costs with a cost critic).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from testbed.agents.common.nets import mlp


def standardize(x: torch.Tensor) -> torch.Tensor:
    """(x - mean) / std over the batch; unchanged for fewer than 2 elements, and all zeros
    when x is constant up to rounding (dividing float noise by its own tiny std would turn
    a constant vector, e.g. equal advantages, into O(1) values of one sign)."""
    if len(x) < 2:
        return x
    centred = x - x.mean()
    std = centred.std()
    if std <= 1e-6 * (float(x.abs().max()) + 1e-8):
        return torch.zeros_like(x)
    return centred / (std + 1e-8)


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, clip: float | None
) -> torch.Tensor:
    """Mean squared error to the returns; with `clip`, the max of clipped and unclipped errors."""
    error = (values - returns) ** 2
    if clip is None:
        return error.mean()
    clipped = old_values + (values - old_values).clamp(-clip, clip)
    return torch.max(error, (clipped - returns) ** 2).mean()


class RolloutBuffer:
    """Steps of one env in order; `batch()` stacks them into tensors (the dict a composer such
    as PPO-Lagrangian reads: `batch["cost"]` holds each step's cost)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.steps: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def full(self) -> bool:
        return len(self.steps) >= self.capacity

    def add(self, **step: Any) -> None:
        """One step as named fields (PPO: obs, action, log_prob, value, reward, cost,
        next_obs, terminated, action_mask); `truncated` (time limit) is folded into `end`."""
        truncated = step.pop("truncated")
        step["end"] = bool(step["terminated"] or truncated)
        self.steps.append(step)

    def cut(self) -> None:
        """Mark the last step an episode end (its episode was abandoned, e.g. by a training
        budget, and the next step starts another); GAE then bootstraps it with V(next_obs)."""
        if self.steps:
            self.steps[-1]["end"] = True

    def batch(self) -> dict[str, torch.Tensor]:
        """Each stored field stacked into a tensor; the last step always counts as an `end`
        (the rollout stops there); `action_mask` only when some step had a mask."""
        out: dict[str, torch.Tensor] = {}
        for name in self.steps[0]:
            if name == "action_mask":
                continue
            values = [s[name] for s in self.steps]
            if isinstance(values[0], torch.Tensor):
                out[name] = torch.stack(values)
            else:
                out[name] = torch.as_tensor(np.asarray(values, dtype=np.float32))
        out["end"][-1] = 1.0
        masks = [s.get("action_mask") for s in self.steps]
        if any(m is not None for m in masks):
            width = next(len(m) for m in masks if m is not None)
            out["action_mask"] = torch.as_tensor(
                np.stack([np.ones(width, bool) if m is None else m for m in masks])
            )
        return out

    def clear(self) -> None:
        self.steps = []


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    ends: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns = advantages + values) by the GAE(lambda) recursion above."""
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values
    advantages = torch.zeros_like(rewards)
    running = torch.zeros(())
    for t in reversed(range(len(rewards))):
        running = deltas[t] + gamma * lam * (1.0 - ends[t]) * running
        advantages[t] = running
    return advantages, advantages + values


def discounted_returns(
    rewards: Sequence[float], gamma: float, bootstrap: float = 0.0
) -> np.ndarray:
    """Reward-to-go G_t = r_t + gamma * G_{t+1}, with G_T = `bootstrap`."""
    out = np.zeros(len(rewards), np.float32)
    running = bootstrap
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


class Actor(nn.Module):
    """The policy network. Discrete: Categorical over logits (illegal actions get -inf).
    Box: diagonal Gaussian with a state-independent learned log-std; samples are raw (the
    learner clips them to the bounds before they reach the env, log-probs use the raw sample).
    """

    def __init__(
        self,
        obs_dim: int,
        action_space: spaces.Space,
        hidden: Sequence[int],
        log_std_init: float,
        algorithm: str,
    ):
        super().__init__()
        self.discrete = isinstance(action_space, spaces.Discrete)
        if self.discrete:
            self.start = int(action_space.start)
            out_dim = int(action_space.n)
        elif isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
            if not (
                np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))
            ):
                raise ValueError(f"{algorithm} needs finite action bounds, got {action_space}")
            out_dim = int(action_space.shape[0])
            self.low = action_space.low.astype(np.float32)
            self.high = action_space.high.astype(np.float32)
            self.log_std = nn.Parameter(torch.full((out_dim,), float(log_std_init)))
        else:
            raise ValueError(
                f"{algorithm} needs a Discrete or 1-D Box action space, got {action_space}"
            )
        self.net = mlp(obs_dim, out_dim, hidden, out_gain=0.01)

    def distribution(self, obs: torch.Tensor, mask: torch.Tensor | None = None) -> Distribution:
        out = self.net(obs)
        if self.discrete:
            if mask is not None:
                out = out.masked_fill(~mask, float("-inf"))
            return Categorical(logits=out)
        return Independent(Normal(out, self.log_std.exp().expand_as(out)), 1)

    def mode(self, obs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The evaluation action: argmax over legal actions, or the Gaussian mean."""
        out = self.net(obs)
        if self.discrete:
            if mask is not None:
                out = out.masked_fill(~mask, float("-inf"))
            return out.argmax(-1)
        return out

    def to_env(self, action: torch.Tensor) -> Any:
        """A network action as the env wants it: np.int64, or float32 clipped to the bounds."""
        if self.discrete:
            return np.int64(self.start + int(action))
        return np.clip(action.numpy().astype(np.float32), self.low, self.high)

    def from_env(self, action: Any) -> torch.Tensor:
        """An env action as the network sees it (the inverse of `to_env` up to clipping)."""
        if self.discrete:
            return torch.tensor(int(action) - self.start)
        return torch.as_tensor(np.asarray(action, np.float32))


def mask_tensor(mask: np.ndarray | None) -> torch.Tensor | None:
    if mask is None:
        return None
    legal = torch.as_tensor(np.asarray(mask, dtype=bool))
    if not legal.any():
        raise ValueError("action mask allows no action")
    return legal
