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

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from testbed.agents.common.nets import mlp
from testbed.agents.common.spaces import to_vector
from testbed.rollout.vector import TransitionBatch

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


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
    """Steps of N env copies in time order (N = 1 for one env). `add` takes one step of every
    copy (arrays with the copy axis first); `batch()` lays each copy's steps end to end
    (copy 0's steps in order, then copy 1's, ...) and marks each copy's last step an `end`,
    so a single-env recursion such as GAE runs over it unchanged and never crosses copies.
    `capacity` counts transitions over all copies (each copy fills capacity / N steps, at
    least one), or with `per_copy` steps of each copy (an n-step return's n)."""

    def __init__(self, capacity: int, *, per_copy: bool = False):
        self.capacity = capacity
        self.per_copy = per_copy
        self.steps: list[dict[str, Any]] = []
        self.copies: int | None = None

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def full(self) -> bool:
        if self.copies is None:
            return False
        length = self.capacity if self.per_copy else max(1, self.capacity // self.copies)
        return len(self.steps) >= length

    def add(self, **step: Any) -> bool:
        """One step of every copy as named fields, each an array (N, ...) (PPO: obs, action,
        log_prob, value, reward, cost, next_obs, terminated, action_mask); `truncated` (time
        limit) is folded into `end`. Whether the step was stored: a step of fewer copies than
        the rollout in progress is not (the harness's last vector step, which covers only the
        copies the budget still allows: that rollout could never complete); a step of another
        number of copies otherwise starts a new rollout."""
        truncated = np.asarray(step.pop("truncated"), bool)
        if truncated.ndim == 0:  # one step of one env, without the copy axis
            step = {k: _one_copy(v) for k, v in step.items()}
            truncated = truncated[None]
        step["end"] = np.asarray(step["terminated"], bool) | truncated
        copies = len(step["end"])
        if copies != self.copies:
            if self.steps and copies < (self.copies or 0):
                return False
            self.steps, self.copies = [], copies
        self.steps.append(step)
        return True

    def takes(self, copies: int) -> bool:
        """Whether `add` would store a step of this many copies."""
        return not (self.steps and copies < (self.copies or 0))

    def cut(self) -> None:
        """Mark the last step of every copy an episode end (its episode was abandoned, e.g.
        by a training budget); GAE then bootstraps it with V(next_obs)."""
        if self.steps:
            self.steps[-1]["end"] = np.ones_like(self.steps[-1]["end"])

    def batch(self) -> dict[str, torch.Tensor]:
        """Each stored field as one tensor of N * T rows, copy by copy; `action_mask` only
        when some step had a mask."""
        out: dict[str, torch.Tensor] = {}
        for name in self.steps[0]:
            if name == "action_mask":
                continue
            values = [s[name] for s in self.steps]
            if isinstance(values[0], torch.Tensor):
                stacked = torch.stack(values)
            else:
                stacked = torch.as_tensor(np.asarray(values, dtype=np.float32))
            out[name] = stacked.transpose(0, 1).reshape(-1, *stacked.shape[2:])  # copy-major
        out["end"].view(self.copies or 1, -1)[:, -1] = 1.0
        masks = [s.get("action_mask") for s in self.steps]
        if any(m is not None for m in masks):
            width = next(m.shape[-1] for m in masks if m is not None)
            full = [np.ones((self.copies or 1, width), bool) if m is None else m for m in masks]
            out["action_mask"] = torch.as_tensor(np.stack(full)).transpose(0, 1).reshape(-1, width)
        return out

    def clear(self) -> None:
        self.steps = []


def _one_copy(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return value.unsqueeze(0)
    return np.asarray(value)[None]


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    ends: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns = advantages + values) by the GAE(lambda) recursion above (the
    recursion runs on Python floats: a tensor operation per step costs ~15x more)."""
    deltas = (rewards + gamma * (1.0 - terminated) * next_values - values).tolist()
    carry = (gamma * lam * (1.0 - ends)).tolist()
    out = [0.0] * len(deltas)
    running = 0.0
    for t in range(len(deltas) - 1, -1, -1):
        running = deltas[t] + carry[t] * running
        out[t] = running
    advantages = torch.tensor(out, dtype=rewards.dtype)
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

    def log_prob_entropy(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        mask: torch.Tensor | None = None,
        entropy_grad: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) and the entropy of pi(.|s) for a batch, computed directly (what
        `distribution(obs, mask)` gives, without building a Distribution per minibatch).
        `entropy_grad=False` (a loss that weighs the entropy by 0) leaves a discrete policy's
        entropy out of the graph: the same gradients, a shorter backward pass."""
        out = self.net(obs)
        if self.discrete:
            if mask is not None:
                out = out.masked_fill(~mask, float("-inf"))
            log_pi = torch.log_softmax(out, -1)
            log_prob = log_pi.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
            with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
                probs = log_pi.exp()
                if mask is not None:  # masked actions: log pi = -inf, and 0 * -inf is nan
                    log_pi = log_pi.masked_fill(~mask, 0.0)
                entropy = -(probs * log_pi).sum(-1)
            return log_prob, entropy
        log_std = self.log_std.expand_as(out)
        z = (actions - out) / log_std.exp()
        log_prob = (-0.5 * z * z - log_std - _HALF_LOG_2PI).sum(-1)
        entropy = (0.5 + _HALF_LOG_2PI + log_std).sum(-1)
        return log_prob, entropy

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

    def to_env_batch(self, actions: torch.Tensor) -> np.ndarray:
        """`to_env` of a batch of network actions, one row per copy."""
        if self.discrete:
            return (actions.numpy() + self.start).astype(np.int64)
        return np.clip(actions.numpy().astype(np.float32), self.low, self.high)

    def from_env(self, action: Any) -> torch.Tensor:
        """An env action as the network sees it (the inverse of `to_env` up to clipping)."""
        if self.discrete:
            return torch.tensor(int(action) - self.start)
        return torch.as_tensor(np.asarray(action, np.float32))

    def from_env_batch(self, actions: np.ndarray) -> torch.Tensor:
        """`from_env` of a batch of env actions, one row per copy."""
        if self.discrete:
            return torch.as_tensor(np.asarray(actions, np.int64).reshape(-1) - self.start)
        return torch.as_tensor(np.asarray(actions, np.float32))


def mask_tensor(mask: np.ndarray | None) -> torch.Tensor | None:
    """A legal-action mask (n,) or a batch of them (N, n) as a bool tensor."""
    if mask is None:
        return None
    legal = torch.as_tensor(np.asarray(mask, dtype=bool))
    if not legal.any(-1).all():
        raise ValueError("action mask allows no action")
    return legal


class EpisodeContinuity:
    """Tells whether a single-env transition continues the episode of the one before: its
    observation is the one that transition reached. When it is not, the episode before was
    abandoned (e.g. a training budget ended it) and a learner must not chain the two."""

    def __init__(self) -> None:
        self.expected: np.ndarray | None = None  # None after an episode end

    def broken(self, space: spaces.Space, transition: dict[str, Any]) -> bool:
        """Whether `transition` does not continue the last one; remembers where it leads."""
        expected, ended = self.expected, transition["terminated"] or transition["truncated"]
        self.expected = None if ended else to_vector(space, transition["next_obs"])
        return expected is not None and not np.array_equal(
            to_vector(space, transition["obs"]), expected
        )

    def clear(self) -> None:
        self.expected = None


def one_row(transition: dict[str, Any]) -> TransitionBatch:
    """A single-env transition dict as a batch of one row."""
    mask, next_mask = transition.get("action_mask"), transition.get("next_action_mask")
    return TransitionBatch(
        obs=[transition["obs"]],
        action=np.asarray([transition["action"]]),
        reward=np.asarray([transition["reward"]], np.float32),
        cost=np.asarray([transition.get("cost", 0.0)], np.float32),
        next_obs=[transition["next_obs"]],
        terminated=np.asarray([transition["terminated"]], bool),
        truncated=np.asarray([transition["truncated"]], bool),
        action_mask=None if mask is None else np.asarray(mask, bool)[None],
        next_action_mask=None if next_mask is None else np.asarray(next_mask, bool)[None],
    )


def same_batch(a: Any, b: Any) -> bool:
    """The same observations: one object, equal arrays, or lists of the same objects."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return all(x is y for x, y in zip(a, b, strict=True))
    return False


class EpisodeCosts:
    """Each env copy's running episode cost and length, and the finished episodes' (cost,
    length) in the order they finished (safe learners measure J_C from them)."""

    def __init__(self) -> None:
        self.cost = np.zeros(0)
        self.length = np.zeros(0, int)
        self.finished: list[tuple[float, int]] = []

    def add(self, costs: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Count one step of every copy; return each copy's cost before this step."""
        costs = np.asarray(costs, np.float64)
        if self.cost.shape != costs.shape:
            self.cost, self.length = np.zeros(costs.shape), np.zeros(costs.shape, int)
        before = self.cost.copy()
        self.cost += costs
        self.length += 1
        for c in np.flatnonzero(ends):
            self.finished.append((float(self.cost[c]), int(self.length[c])))
            self.cost[c], self.length[c] = 0.0, 0
        return before

    def abandon(self) -> None:
        """The running episodes were abandoned (not finished): forget them."""
        self.cost[:] = 0.0
        self.length[:] = 0

    def take(self) -> list[tuple[float, int]]:
        """The finished episodes since the last take."""
        finished, self.finished = self.finished, []
        return finished
