"""The three scenarios: layout, observations and rewards of PettingZoo's scenario files."""

from __future__ import annotations

import numpy as np

from testbed.envs.mpe_batched.core import BatchedMPE, others_index
from testbed.envs.spread_padding import check_max_agents, pad_spread, padded_dim


def _distance(delta: np.ndarray) -> np.ndarray:
    """PettingZoo's `np.sqrt(np.sum(np.square(delta)))`, (..., 2, N) -> (..., N)."""
    return np.sqrt(np.square(delta[..., 0, :]) + np.square(delta[..., 1, :]))


def _flat(array: np.ndarray) -> np.ndarray:
    """(A, K, 2, N) -> (A, 2K, N): K points in a row, x and y interleaved."""
    return array.reshape(array.shape[0], -1, array.shape[-1])


def _fill(blocks: list[np.ndarray], n: int) -> np.ndarray:
    """Concatenate (A, d_k, N) float64 blocks into (A, N, D) float32 observations."""
    out = np.empty((blocks[0].shape[0], n, sum(b.shape[1] for b in blocks)), np.float32)
    view, start = out.transpose(0, 2, 1), 0
    for block in blocks:
        view[:, start : start + block.shape[1]] = block
        start += block.shape[1]
    return out


class BatchedSpread(BatchedMPE):
    """simple_spread_v3: N agents (size 0.15, colliding), N landmarks (not colliding).

    Observation: [vel, pos, landmark - pos (N), other - pos (N-1), other comm (N-1)]; with
    `max_agents`, padded to that many slots (testbed.envs.spread_padding).
    Reward: (1 - local_ratio) * -(sum over landmarks of the nearest agent's distance)
    + local_ratio * -(number of other agents it overlaps).
    """

    name = "simple_spread_v3"

    def __init__(
        self,
        num_envs: int,
        N: int = 3,  # noqa: N803 (PettingZoo's parameter name)
        local_ratio: float = 0.5,
        max_cycles: int = 25,
        continuous_actions: bool = False,
        max_steps: int | None = None,
        max_agents: int | None = None,
    ):
        if not 0.0 <= local_ratio <= 1.0:
            raise ValueError("local_ratio is a proportion. Must be between 0 and 1.")
        check_max_agents(N, max_agents)
        self.max_agents = max_agents
        self.local_ratio = float(local_ratio)
        self.agent_size, self.accel = np.full(N, 0.15), np.full(N, 5.0)
        self.max_speed, self.agent_collide = np.full(N, np.inf), np.ones(N, bool)
        self.landmark_size, self.landmark_collide = np.full(N, 0.05), np.zeros(N, bool)
        self._others_idx = others_index(N)
        self._touch = (self.agent_size[:, None] + self.agent_size[None, :])[
            np.arange(N)[:, None], self._others_idx
        ]
        agents = [f"agent_{i}" for i in range(N)]
        super().__init__(num_envs, agents, max_cycles, continuous_actions, max_steps)

    def observation_dims(self) -> list[int]:
        if self.max_agents is not None:
            return [padded_dim(self.max_agents)] * self.num_agents
        return [6 * self.num_agents] * self.num_agents

    def observe_all(self) -> dict[str, np.ndarray]:
        p, own = self._p, self._p[:, None]
        blocks = [
            self._v,
            p,
            _flat(self._lm[None] - own),
            _flat(p[self._others_idx] - own),
            _flat(self._c[self._others_idx]),
        ]
        out = _fill(blocks, self.num_envs)
        if self.max_agents is not None:
            out = pad_spread(out, self.num_agents, self.max_agents)
        return dict(zip(self.possible_agents, out, strict=True))

    def rewards(self) -> np.ndarray:
        near = _distance(self._p[:, None] - self._lm[None]).min(axis=0)  # (L, N)
        total = np.zeros(self.num_envs)
        for landmark in range(self.num_landmarks):  # Python's left-to-right sum
            total -= near[landmark]
        apart = _distance(self._p[self._others_idx] - self._p[:, None])  # (A, A-1, N)
        local = 0.0 - (apart < self._touch[:, :, None]).sum(axis=1)
        return total * (1 - self.local_ratio) + local * self.local_ratio


def _bound(x: np.ndarray) -> np.ndarray:
    """simple_tag's penalty for leaving the area, of |coordinate|."""
    with np.errstate(over="ignore"):
        far = np.minimum(np.exp(2 * np.minimum(x, 100.0) - 2), 10)
    return np.where(x < 0.9, 0.0, np.where(x < 1.0, (x - 0.9) * 10, far))


class BatchedTag(BatchedMPE):
    """simple_tag_v3: adversaries (size 0.075, accel 3, max speed 1) chase good agents (0.05,
    4, 1.3) among obstacles (0.2, initially in [-0.9, 0.9]^2); everything collides.

    Observation: [vel, pos, obstacle - pos, other - pos (all other agents), velocities of the
    other good agents]. Reward: adversaries +10 per (good, adversary) overlap (shared);
    good agents -10 per adversary overlapping them, minus `_bound` of each |coordinate|.
    """

    name = "simple_tag_v3"
    landmark_range = 0.9

    def __init__(
        self,
        num_envs: int,
        num_good: int = 1,
        num_adversaries: int = 3,
        num_obstacles: int = 2,
        max_cycles: int = 25,
        continuous_actions: bool = False,
        max_steps: int | None = None,
    ):
        self.num_good, self.num_adversaries = num_good, num_adversaries
        adv = np.arange(num_adversaries + num_good) < num_adversaries
        self.agent_size = np.where(adv, 0.075, 0.05)
        self.accel = np.where(adv, 3.0, 4.0)
        self.max_speed = np.where(adv, 1.0, 1.3)
        self.agent_collide = np.ones(len(adv), bool)
        self.landmark_size = np.full(num_obstacles, 0.2)
        self.landmark_collide = np.ones(num_obstacles, bool)
        self._others_idx = others_index(len(adv))
        goods = np.arange(num_adversaries, len(adv))
        self._goods = goods
        self._good_others = goods[others_index(num_good)] if num_good > 1 else None
        self._catch = 0.075 + 0.05
        agents = [f"adversary_{i}" for i in range(num_adversaries)]
        agents += [f"agent_{i}" for i in range(num_good)]
        super().__init__(num_envs, agents, max_cycles, continuous_actions, max_steps)

    def observation_dims(self) -> list[int]:
        base = 4 + 2 * self.num_landmarks + 2 * (self.num_agents - 1)
        return [base + 2 * self.num_good] * self.num_adversaries + [
            base + 2 * (self.num_good - 1)
        ] * self.num_good

    def observe_all(self) -> dict[str, np.ndarray]:
        p, own, na, n = self._p, self._p[:, None], self.num_adversaries, self.num_envs
        common = [self._v, p, _flat(self._lm[None] - own), _flat(p[self._others_idx] - own)]
        good_vel = self._v[self._goods].reshape(1, -1, n)
        adversaries = [b[:na] for b in common] + [
            np.broadcast_to(good_vel, (na, *good_vel.shape[1:]))
        ]
        goods = [b[na:] for b in common]
        if self._good_others is not None:
            goods.append(_flat(self._v[self._good_others]))
        out = [*_fill(adversaries, n), *_fill(goods, n)]
        return dict(zip(self.possible_agents, out, strict=True))

    def rewards(self) -> np.ndarray:
        na = self.num_adversaries
        caught = _distance(self._p[:na, None] - self._p[None, na:]) < self._catch  # (adv, good, N)
        out = np.empty((self.num_agents, self.num_envs))
        out[:na] = 10.0 * caught.sum(axis=(0, 1))
        good = 0.0 - 10.0 * caught.sum(axis=0)  # (goods, N)
        edge = _bound(np.abs(self._p[na:]))  # (goods, 2, N)
        good -= edge[:, 0]
        good -= edge[:, 1]
        out[na:] = good
        return out


class BatchedAdversary(BatchedMPE):
    """simple_adversary_v3: 1 adversary and N good agents (size 0.15), N landmarks (0.08), one
    the goal (uniform); nothing collides.

    Observation: good agents [goal - pos, landmark - pos (N), other - pos (N)]; the adversary
    [landmark - pos (N), other - pos (N)]. Reward: the adversary -dist(adversary, goal); good
    agents dist(adversary, goal) - min over good agents of dist(agent, goal).
    """

    name = "simple_adversary_v3"
    draws_goal = True

    def __init__(
        self,
        num_envs: int,
        N: int = 2,  # noqa: N803 (PettingZoo's parameter name)
        max_cycles: int = 25,
        continuous_actions: bool = False,
        max_steps: int | None = None,
    ):
        self.agent_size, self.accel = np.full(N + 1, 0.15), np.full(N + 1, 5.0)
        self.max_speed, self.agent_collide = np.full(N + 1, np.inf), np.zeros(N + 1, bool)
        self.landmark_size, self.landmark_collide = np.full(N, 0.08), np.zeros(N, bool)
        self._others_idx = others_index(N + 1)
        agents = ["adversary_0"] + [f"agent_{i}" for i in range(N)]
        super().__init__(num_envs, agents, max_cycles, continuous_actions, max_steps)

    def observation_dims(self) -> list[int]:
        n = self.num_landmarks
        return [4 * n] + [4 * n + 2] * n

    def _goal_pos(self) -> np.ndarray:
        """The goal landmark's position, (2, N)."""
        return np.take_along_axis(self._lm, self.goal[None, None, :], axis=0)[0]

    def observe_all(self) -> dict[str, np.ndarray]:
        p, own, n = self._p, self._p[:, None], self.num_envs
        landmarks = _flat(self._lm[None] - own)
        others = _flat(p[self._others_idx] - own)
        goal = self._goal_pos()[None] - p[1:]
        out = [*_fill([landmarks[:1], others[:1]], n), *_fill([goal, landmarks[1:], others[1:]], n)]
        return dict(zip(self.possible_agents, out, strict=True))

    def rewards(self) -> np.ndarray:
        to_goal = _distance(self._p - self._goal_pos()[None])  # (A, N)
        out = np.empty((self.num_agents, self.num_envs))
        out[0] = -to_goal[0]
        out[1:] = -to_goal[1:].min(axis=0) + to_goal[0]
        return out
