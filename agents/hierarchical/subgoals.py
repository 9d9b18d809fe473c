"""The goal hierarchy's high-level pieces: subgoal transition, segment replay, off-policy
subgoal correction and hindsight relabelling of segments (Nachum et al. 2018, "Data-Efficient
Hierarchical Reinforcement Learning", NeurIPS; arXiv:1805.08296).

A subgoal g is an offset in achieved-goal space ("reach achieved + g"). Between high-level
decisions it is carried along so that it keeps pointing at the same absolute target:

    h(ag, g, ag') = ag + g - ag'

One high-level transition (a *segment*) covers up to k env steps: the high observation at its
start, the subgoal chosen, the env rewards summed, the high observation at its end, and the
low level's observations, achieved goals and actions in between (for the correction).

Off-policy correction: the low level keeps changing, so a stored subgoal no longer explains
the stored low-level actions. At training time the subgoal is replaced by the candidate that
makes those actions most likely under the current deterministic low level mu:

    g* = argmax_g  -1/2 sum_{j < len} || a_j - mu(o_j, g_j) ||^2,   g_j = g + ag_0 - ag_j

over the candidates: the original g, the achieved displacement ag_len - ag_0, and
`n` samples N(ag_len - ag_0, sigma^2), all clipped to the subgoal range.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from testbed.agents.common.her import HERConfig


def next_subgoal(
    achieved: np.ndarray, subgoal: np.ndarray, next_achieved: np.ndarray
) -> np.ndarray:
    """h(ag, g, ag') = ag + g - ag': the same absolute target, seen from ag'."""
    return achieved + subgoal - next_achieved


def low_reward(
    achieved: np.ndarray, subgoal: np.ndarray, next_achieved: np.ndarray, radius: float | None
) -> float:
    """-||ag + g - ag'|| (dense), or 0 within `radius` of the target and -1 outside (sparse)."""
    distance = float(np.linalg.norm(achieved + subgoal - next_achieved))
    if radius is None:
        return -distance
    return 0.0 if distance <= radius else -1.0


def subgoal_candidates(
    original: torch.Tensor, displacement: torch.Tensor, bound: float, n: int, std: float
) -> torch.Tensor:
    """(B, 2 + n, g) candidates: original, displacement, n Gaussian samples around it;
    all clipped to [-bound, bound] (torch's global RNG)."""
    noise = std * torch.randn(displacement.shape[0], n, displacement.shape[1])
    samples = displacement[:, None, :] + noise
    stacked = torch.cat([original[:, None, :], displacement[:, None, :], samples], dim=1)
    return stacked.clamp(-bound, bound)


@torch.no_grad()
def pick_subgoals(
    low_actor: Callable[[torch.Tensor], torch.Tensor],
    candidates: torch.Tensor,
    low_obs: torch.Tensor,
    achieved: torch.Tensor,
    low_actions: torch.Tensor,
    lengths: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The candidate of each segment under which the low level's stored actions are most
    likely, and its index. Shapes: candidates (B, C, g), low_obs (B, k, o), achieved
    (B, k + 1, g), low_actions (B, k, a) (unit actions), lengths (B,)."""
    b, c, _ = candidates.shape
    k = low_obs.shape[1]
    # g_j = g + ag_0 - ag_j for j < k: (B, C, k, g)
    goals = candidates[:, :, None, :] + (achieved[:, None, :1, :] - achieved[:, None, :k, :])
    obs = low_obs[:, None, :, :].expand(b, c, k, low_obs.shape[-1])
    mu = low_actor(torch.cat([obs, goals], dim=-1))
    error = ((low_actions[:, None, :, :] - mu) ** 2).sum(-1)  # (B, C, k)
    valid = (torch.arange(k)[None, :] < lengths[:, None]).float()[:, None, :]
    score = -0.5 * (error * valid).sum(-1)
    best = score.argmax(dim=1)
    return candidates[torch.arange(b), best], best


class SegmentReplay:
    """Ring buffer of high-level segments (numpy rows; sampled with torch's global RNG)."""

    def __init__(
        self, capacity: int, high_dim: int, obs_len: int, goal_len: int, act_dim: int, k: int
    ):
        self.capacity, self.k = int(capacity), k
        self.obs = np.zeros((capacity, high_dim), np.float32)
        self.next_obs = np.zeros((capacity, high_dim), np.float32)
        self.subgoals = np.zeros((capacity, goal_len), np.float32)  # env units
        self.rewards = np.zeros(capacity, np.float32)
        self.dones = np.zeros(capacity, np.float32)
        self.low_obs = np.zeros((capacity, k, obs_len), np.float32)
        self.achieved = np.zeros((capacity, k + 1, goal_len), np.float32)
        self.low_actions = np.zeros((capacity, k, act_dim), np.float32)
        self.lengths = np.zeros(capacity, np.int64)
        self.size = 0
        self._next = 0

    def __len__(self) -> int:
        return self.size

    def add(self, segment: dict[str, Any]) -> None:
        """One segment: obs, next_obs, subgoal, reward, done, low_obs (n, o), achieved
        (n + 1, g), low_actions (n, a), with n <= k steps."""
        i, n = self._next, len(segment["low_actions"])
        self.obs[i], self.next_obs[i] = segment["obs"], segment["next_obs"]
        self.subgoals[i] = segment["subgoal"]
        self.rewards[i], self.dones[i] = segment["reward"], float(segment["done"])
        self.low_obs[i] = 0.0
        self.achieved[i] = segment["achieved"][-1]  # pad with the last achieved goal
        self.low_actions[i] = 0.0
        self.low_obs[i, :n] = segment["low_obs"]
        self.achieved[i, : n + 1] = segment["achieved"]
        self.low_actions[i, :n] = segment["low_actions"]
        self.lengths[i] = n
        self._next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        index = torch.randint(self.size, (batch_size,)).numpy()
        names = (
            "obs",
            "next_obs",
            "subgoals",
            "rewards",
            "dones",
            "low_obs",
            "achieved",
            "low_actions",
            "lengths",
        )
        return {name: torch.from_numpy(getattr(self, name)[index]) for name in names}


def hindsight_segments(
    segments: list[dict[str, Any]], config: HERConfig, goal_slice: slice, reward_scale: float
) -> list[dict[str, Any]]:
    """`config.k` copies of each segment of one episode with the desired goal replaced by an
    achieved one (the end of a later segment for 'future', of the last for 'final', of any
    for 'episode'); reward = -reward_scale per step before the relabelled goal is reached
    (within distance_threshold), done when it is reached if terminate_on_success."""
    out: list[dict[str, Any]] = []
    n = len(segments)
    ends = [s["achieved"][-1] for s in segments]
    for i, segment in enumerate(segments):
        for _ in range(config.k):
            if config.strategy == "final":
                j = n - 1
            elif config.strategy == "episode":
                j = int(torch.randint(n, ()).item())
            else:
                j = i + int(torch.randint(n - i, ()).item())
            goal = ends[j]
            distance = np.linalg.norm(segment["achieved"][1:] - goal, axis=-1)
            reached = distance <= config.distance_threshold
            if config.terminate_on_success and reached.any():
                failures, done = int(np.argmax(reached)), True
            else:
                failures, done = int((~reached).sum()), bool(segment["done"])
            obs, next_obs = segment["obs"].copy(), segment["next_obs"].copy()
            obs[goal_slice] = goal
            next_obs[goal_slice] = goal
            out.append(
                {
                    **segment,
                    "obs": obs,
                    "next_obs": next_obs,
                    "done": done,
                    "reward": -reward_scale * failures,
                }
            )
    return out
