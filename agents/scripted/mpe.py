"""Scripted controllers for PettingZoo MPE particle worlds (simple_spread_v3, simple_tag_v3).

Each picks a direction to push from the observation. The spreader and the chaser aim at a
point and allow for their own velocity: MPE damps velocity by 25 % a step with dt = 0.1, so a
particle moving at `v` coasts about `0.4 v` further (`COAST_SECONDS`), and pushing toward
`target - brake * v` stops near the target instead of orbiting it. The fleer runs from the
predators and is pulled back toward the centre (MPE penalises prey beyond |x| = 0.9). They
work with discrete and continuous MPE actions (`continuous_actions=True`), see `push_action`,
and use no randomness. `benchmarks/baselines.py` measures them against `random`.

Observation layouts (PettingZoo 1.24.3 MPE, positions relative to the observing agent):

- simple_spread_v3 (N agents, N landmarks): own velocity (2), own position (2), landmarks
  (2N), other agents (2(N-1)), other agents' communication (2(N-1), always zero); 6N values.
- simple_tag_v3, adversary (predator): own velocity, own position, obstacles (2 per obstacle),
  other agents (other adversaries first, then the prey), prey velocities (2 per prey).
- simple_tag_v3, good agent (prey): the same, with all adversaries then the other prey, and the
  other prey's velocities.

Tag has several shapes with the same observation length, so `TagChaser` / `TagFleer` take the
env's `num_good`, `num_adversaries`, `num_obstacles` in their config (defaults = the env's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

COAST_SECONDS = 0.4  # dt / damping: how far (in seconds of velocity) a particle coasts
# Discrete MPE actions: 0 no-op, 1 push -x, 2 push +x, 3 push -y, 4 push +y.
_AXIS_ACTIONS = ((1, 2), (3, 4))


def push_action(direction: np.ndarray, action_space: spaces.Space, dead_zone: float) -> Any:
    """The MPE movement action closest to pushing along `direction` (2-vector).

    Discrete: the axis push best aligned with `direction`, or the no-op when its length is
    below `dead_zone`. Continuous (`Box(0, 1, (5,))`): force components `direction`, clipped to
    [-1, 1], written as `a[2] - a[1]` (x) and `a[4] - a[3]` (y).
    """
    if isinstance(action_space, spaces.Discrete):
        if float(np.hypot(direction[0], direction[1])) < dead_zone:
            return np.int64(0)
        axis = int(abs(direction[1]) > abs(direction[0]))
        return np.int64(_AXIS_ACTIONS[axis][int(direction[axis] > 0)])
    force = np.clip(direction, -1.0, 1.0)
    action = np.zeros(action_space.shape, dtype=action_space.dtype)
    action[1], action[2] = max(-force[0], 0.0), max(force[0], 0.0)
    action[3], action[4] = max(-force[1], 0.0), max(force[1], 0.0)
    return action


def _check_movement_space(name: str, action_space: spaces.Space) -> None:
    ok = action_space == spaces.Discrete(5) or (
        isinstance(action_space, spaces.Box) and action_space.shape == (5,)
    )
    if not ok:
        raise ValueError(
            f"{name} needs MPE movement actions (Discrete(5) or Box(0, 1, (5,))); "
            f"got {action_space}"
        )


def _observation_length(observation_space: spaces.Space) -> int:
    if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
        raise ValueError(f"expected a flat MPE Box observation; got {observation_space}")
    return int(observation_space.shape[0])


def greedy_assignment(distances: np.ndarray) -> dict[int, int]:
    """Match rows (agents) to columns (landmarks), closest remaining pair first."""
    remaining = distances.astype(float).copy()
    matched: dict[int, int] = {}
    for _ in range(min(remaining.shape)):
        row, column = np.unravel_index(np.argmin(remaining), remaining.shape)
        matched[int(row)] = int(column)
        remaining[row, :] = np.inf
        remaining[:, column] = np.inf
    return matched


# ---------------------------------------------------------------------------------------------
# simple_spread


@dataclass(frozen=True)
class SpreadConfig:
    """Parameters of the spread controller."""

    brake: float = 0.25
    """Seconds of own velocity taken off the target offset (COAST_SECONDS stops exactly)."""
    dead_zone: float = 0.05
    """Discrete actions: distance to the aim point under which the agent does nothing."""
    gain: float = 4.0
    """Continuous actions: force per unit of distance to the aim point (clipped to 1)."""


class SpreadNearestLandmark:
    """Covers a landmark, matching agents to landmarks greedily by distance.

    Every agent sees all positions, so each computes the same matching: the closest
    (agent, landmark) pair first, then the closest pair among the rest, and so on; it goes
    to its own landmark, i.e. the nearest landmark not claimed by a closer agent.
    """

    Config = SpreadConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: SpreadConfig | None = None,
    ):
        self.config = config or SpreadConfig()
        length = _observation_length(observation_space)
        if length % 6 or length == 0:
            raise ValueError(
                f"SpreadNearestLandmark needs simple_spread_v3 observations (6N values); "
                f"got length {length}"
            )
        _check_movement_space("SpreadNearestLandmark", action_space)
        self.n = length // 6
        self.action_space = action_space

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: the controller is deterministic and memoryless."""

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        obs = np.asarray(observation, dtype=np.float64)
        n = self.n
        velocity = obs[0:2]
        landmarks = obs[4 : 4 + 2 * n].reshape(n, 2)
        others = obs[4 + 2 * n : 4 + 4 * n - 2].reshape(n - 1, 2)
        agents = np.vstack([np.zeros((1, 2)), others])  # row 0 is this agent
        distances = np.linalg.norm(agents[:, None, :] - landmarks[None, :, :], axis=2)
        target = landmarks[greedy_assignment(distances)[0]]
        aim = target - self.config.brake * velocity
        scale = 1.0 if isinstance(self.action_space, spaces.Discrete) else self.config.gain
        return push_action(aim * scale, self.action_space, self.config.dead_zone)


# ---------------------------------------------------------------------------------------------
# simple_tag


@dataclass(frozen=True)
class TagConfig:
    """Parameters of the tag controllers; the first three must match the env's."""

    num_good: int = 1
    """The env's `num_good` (prey)."""
    num_adversaries: int = 3
    """The env's `num_adversaries` (predators)."""
    num_obstacles: int = 2
    """The env's `num_obstacles`."""
    lead: float = 0.3
    """Chaser: seconds of the prey's velocity to aim ahead of it."""
    centre_pull: float = 2.0
    """Fleer: pull toward the centre per unit of distance from it (MPE penalises |x| > 0.9)."""
    dead_zone: float = 0.02
    """Discrete actions: push length under which the agent does nothing."""


class _TagController:
    """Shared set-up of the tag controllers: checks the observation fits the role and shape."""

    adversary: bool

    Config = TagConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: TagConfig | None = None,
    ):
        self.config = c = config or TagConfig()
        name = type(self).__name__
        if min(c.num_good, c.num_adversaries) < 1 or c.num_obstacles < 0:
            raise ValueError(f"{name} needs num_good, num_adversaries >= 1, num_obstacles >= 0")
        prey_velocities = c.num_good if self.adversary else c.num_good - 1
        expected = 4 + 2 * c.num_obstacles + 2 * (c.num_good + c.num_adversaries - 1)
        expected += 2 * prey_velocities
        length = _observation_length(observation_space)
        if length != expected:
            role = "an adversary" if self.adversary else "a good agent"
            raise ValueError(
                f"{name} plays {role} of simple_tag_v3 with num_good={c.num_good}, "
                f"num_adversaries={c.num_adversaries}, num_obstacles={c.num_obstacles}: "
                f"expected an observation of length {expected}, got {length} (wrong role, "
                "or set those three parameters to the env's)"
            )
        _check_movement_space(name, action_space)
        self.action_space = action_space

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: the controller is deterministic and memoryless."""

    def _split(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(own velocity, own position, predator offsets, prey offsets) from one observation."""
        c = self.config
        start = 4 + 2 * c.num_obstacles
        others = obs[start : start + 2 * (c.num_good + c.num_adversaries - 1)].reshape(-1, 2)
        split = c.num_adversaries - 1 if self.adversary else c.num_adversaries
        return obs[0:2], obs[2:4], others[:split], others[split:]


class TagChaser(_TagController):
    """simple_tag predator: runs at the nearest prey, aiming a little ahead of it."""

    adversary = True

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        obs = np.asarray(observation, dtype=np.float64)
        velocity, _, _, prey = self._split(obs)
        prey_velocities = obs[len(obs) - 2 * self.config.num_good :].reshape(-1, 2)
        nearest = int(np.argmin(np.linalg.norm(prey, axis=1)))
        aim = prey[nearest] + self.config.lead * prey_velocities[nearest]
        aim -= COAST_SECONDS * velocity
        direction = aim / max(float(np.linalg.norm(aim)), 1e-8)  # always full force
        return push_action(direction, self.action_space, self.config.dead_zone)


class TagFleer(_TagController):
    """simple_tag prey: runs from the predators, the nearest weighing most, kept near the centre."""

    adversary = False

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        obs = np.asarray(observation, dtype=np.float64)
        _, position, predators, _ = self._split(obs)
        distances = np.maximum(np.linalg.norm(predators, axis=1, keepdims=True), 1e-3)
        away = -(predators / distances**3).sum(axis=0)  # unit directions weighted by 1/d^2
        away /= max(float(np.linalg.norm(away)), 1e-8)
        direction = away - self.config.centre_pull * position
        return push_action(direction, self.action_space, self.config.dead_zone)
