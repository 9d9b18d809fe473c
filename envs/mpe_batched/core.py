"""`BatchedMPE`: the MPE world (PettingZoo's `_mpe_utils/core.py`) for N copies at once.

Scenarios (`scenarios.py`) subclass it with their layout, initial-state draw, observations and
rewards; this module holds the state, the physics, auto-reset and the state get/set API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from testbed.envs.mpe_batched.rng import CopyDraws, reference_draws
from testbed.rollout.vector import Batch, VecObs, VecStep

DT, DAMPING, CONTACT_FORCE, CONTACT_MARGIN, DIM_C = 0.1, 0.25, 1e2, 1e-3, 2
# Discrete action -> unit push (PettingZoo's `_set_action`): no-op, -x, +x, -y, +y.
_PUSH = np.array([[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
_NO_CONTACT = -746.0  # np.logaddexp(0, x) is exactly 0.0 below this (exp(x) underflows to 0)
_VECTORISED_FROM = 8  # below this many copies to reset, one Generator per copy is faster


class BatchedMPE:
    """N copies of one MPE scenario, stepped with array operations (a `VecEnv`).

    State (public arrays, copy axis first; agents in `possible_agents` order):
    `pos`, `vel` (N, A, 2) float64, `comm` (N, A, 2) the agents' communication state,
    `landmark_pos` (N, L, 2), `steps` (N,) steps since the copy's reset, `goal` (N,) the goal
    landmark's index (simple_adversary; 0 elsewhere) and `episodes` (N,) the index of each
    copy's current episode (its seed is `copy_seed(seed, c, episodes[c])`). The first four are
    views of (entity, coordinate, copy) arrays `_p`, `_v`, `_c`, `_lm`, which the physics and
    observations use so that every array operation runs along the copies.
    """

    name = "mpe"
    # Set by subclasses: per agent (A,) and per landmark (L,) properties.
    agent_size: np.ndarray
    accel: np.ndarray
    max_speed: np.ndarray  # inf = no limit
    agent_collide: np.ndarray
    landmark_size: np.ndarray
    landmark_collide: np.ndarray
    landmark_range = 1.0  # initial landmark positions are uniform in [-r, r]^2
    draws_goal = False

    def __init__(
        self,
        num_envs: int,
        agents: list[str],
        max_cycles: int,
        continuous_actions: bool,
        max_steps: int | None,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        if max_cycles < 1 or (max_steps is not None and max_steps < 1):
            raise ValueError("max_cycles and max_steps must be at least 1")
        self.num_envs = num_envs
        self.possible_agents = list(agents)
        self.agents = list(agents)
        self.max_cycles = max_cycles
        self.max_steps = max_steps
        self.limit = max_cycles if max_steps is None else min(max_cycles, max_steps)
        self.continuous_actions = continuous_actions
        self.num_agents, self.num_landmarks = len(agents), len(self.landmark_size)
        a, m = self.num_agents, self.num_landmarks
        # Storage is (entity, coordinate, copy), so array operations run along the copies.
        self._p, self._v = np.zeros((a, 2, num_envs)), np.zeros((a, 2, num_envs))
        self._c, self._lm = np.zeros((a, DIM_C, num_envs)), np.zeros((m, 2, num_envs))
        self.pos, self.vel = self._p.transpose(2, 0, 1), self._v.transpose(2, 0, 1)
        self.comm, self.landmark_pos = self._c.transpose(2, 0, 1), self._lm.transpose(2, 0, 1)
        self.steps = np.zeros(num_envs, np.int64)
        self.goal = np.zeros(num_envs, np.int64)
        self.episodes = np.zeros(num_envs, np.int64)
        self.seed = 0
        self._draws = CopyDraws(num_envs)
        lows = np.r_[np.full(2 * a, -1.0), np.full(2 * m, -self.landmark_range)]
        self._lows, self._highs = lows, -lows
        self._index = {agent: i for i, agent in enumerate(agents)}
        self._action_space = (
            spaces.Box(low=0, high=1, shape=(5,)) if continuous_actions else spaces.Discrete(5)
        )
        self._observation_spaces = {
            agent: spaces.Box(-np.float32(np.inf), np.float32(np.inf), (dim,), np.float32)
            for agent, dim in zip(agents, self.observation_dims(), strict=True)
        }
        self._setup_contacts()

    # -- scenario hooks -------------------------------------------------------------------

    def observation_dims(self) -> list[int]:
        """Observation length per agent."""
        raise NotImplementedError

    def observe_all(self) -> dict[str, np.ndarray]:
        """float32 observations {agent: (N, D)} of the current state."""
        raise NotImplementedError

    def rewards(self) -> np.ndarray:
        """float64 rewards (A, N) of the current (post-step) state."""
        raise NotImplementedError

    # -- VecEnv ---------------------------------------------------------------------------

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        if agent not in self._index:
            raise KeyError(agent)
        return self._action_space

    def reset(self, seed: int = 0) -> VecObs:
        """Start episode 0 of every copy, copy c drawn from `copy_seed(seed, c, 0)`."""
        self.seed = int(seed)
        self._draws.set_root(self.seed)
        self.episodes[:] = 0
        self._reset_copies(np.arange(self.num_envs))
        return self.observe()

    def observe(self) -> VecObs:
        """The observations of the current state (e.g. after `set_state`)."""
        return VecObs(self.observe_all(), dict.fromkeys(self.possible_agents))

    def step(self, actions: Batch) -> VecStep:
        """Step every copy; copies whose episode ended are reset (see `VecStep`)."""
        self._physics(self._forces(actions))
        rewards = self.rewards()
        self.steps += 1
        done = self.steps >= self.limit
        observations = self.observe_all()
        masks = dict.fromkeys(self.possible_agents)
        final = VecObs(observations, masks)
        if done.any():
            self._reset_copies(np.flatnonzero(done))
            observations = self.observe_all()
        n = self.num_envs
        return VecStep(
            observations,
            masks,
            {agent: rewards[i] for i, agent in enumerate(self.possible_agents)},
            {agent: np.zeros(n) for agent in self.possible_agents},
            {agent: np.zeros(n, bool) for agent in self.possible_agents},
            {agent: done.copy() for agent in self.possible_agents},
            done,
            final,
        )

    def close(self) -> None:
        pass

    # -- state ----------------------------------------------------------------------------

    def get_state(self, copy: int) -> dict[str, Any]:
        """Copy `copy`'s full state: agent_pos, agent_vel, agent_comm (A, 2), landmark_pos
        (L, 2), steps and goal (ints); arrays are copies."""
        return {
            "agent_pos": self.pos[copy].copy(),
            "agent_vel": self.vel[copy].copy(),
            "agent_comm": self.comm[copy].copy(),
            "landmark_pos": self.landmark_pos[copy].copy(),
            "steps": int(self.steps[copy]),
            "goal": int(self.goal[copy]),
        }

    def set_state(self, copy: int, state: Mapping[str, Any]) -> None:
        """Set copy `copy`'s state from a `get_state`-like mapping (missing keys: unchanged)."""
        for key, array in (
            ("agent_pos", self.pos),
            ("agent_vel", self.vel),
            ("agent_comm", self.comm),
            ("landmark_pos", self.landmark_pos),
        ):
            if key in state:
                value = np.asarray(state[key], np.float64)
                if value.shape != array.shape[1:]:
                    raise ValueError(f"{key}: shape {value.shape}, expected {array.shape[1:]}")
                array[copy] = value
        if "steps" in state:
            self.steps[copy] = int(state["steps"])
        if "goal" in state:
            if not 0 <= int(state["goal"]) < max(self.num_landmarks, 1):
                raise ValueError(f"goal {state['goal']} is not a landmark index")
            self.goal[copy] = int(state["goal"])

    # -- internals ------------------------------------------------------------------------

    def _reset_copies(self, copies: np.ndarray) -> None:
        """Draw the initial state of `copies`' next episode (PettingZoo's `reset_world`)."""
        choices = self.num_landmarks if self.draws_goal else None
        args = (copies, self.episodes[copies], self._lows, self._highs, choices)
        if len(copies) >= _VECTORISED_FROM:
            goal, values = self._draws.draw(*args)
        else:
            goal, values = reference_draws(self.seed, *args)
        a2 = 2 * self.num_agents
        self.pos[copies] = values[:, :a2].reshape(len(copies), -1, 2)
        self.landmark_pos[copies] = values[:, a2:].reshape(len(copies), -1, 2)
        self.vel[copies] = 0.0
        self.comm[copies] = 0.0
        self.steps[copies] = 0
        if goal is not None:
            self.goal[copies] = goal
        self.episodes[copies] += 1

    def _forces(self, actions: Batch) -> np.ndarray:
        """Action forces (A, 2, N): PettingZoo's `_set_action` times `accel` (default 5)."""
        n = self.num_envs
        if self.continuous_actions:
            force = np.empty((self.num_agents, 2, n))
            for i, agent in enumerate(self.possible_agents):
                act = np.clip(_batch_of(actions, agent, n, (n, 5)), 0, 1)
                force[i, 0] = act[:, 2] - act[:, 1]  # in the action's own dtype, as PettingZoo
                force[i, 1] = act[:, 4] - act[:, 3]
        else:
            index = np.stack([_batch_of(actions, a, n, (n,)) for a in self.possible_agents])
            if index.dtype.kind not in "iub":
                index = index.astype(np.int64)
            if index.min() < 0 or index.max() > 4:
                raise ValueError("discrete MPE actions must be in 0..4")
            force = np.stack([_PUSH[:, 0][index], _PUSH[:, 1][index]], axis=1)
        force *= self.accel[:, None, None]
        return force

    def _setup_contacts(self) -> None:
        """The pairs (a < b) of entities that both `collide`, at least one an agent, and for
        each agent the pairs that push it, in PettingZoo's order (by the other's index)."""
        a = self.num_agents
        collide = np.r_[self.agent_collide, self.landmark_collide].astype(bool)
        sizes = np.r_[self.agent_size, self.landmark_size]
        pairs = [
            (i, j)
            for i in range(a)
            for j in range(i + 1, len(collide))
            if collide[i] and collide[j]
        ]
        self._contacts = bool(pairs)
        self._contact_landmarks = any(j >= a for _, j in pairs)
        self._pair_a = np.array([i for i, _ in pairs], np.int64)
        self._pair_b = np.array([j for _, j in pairs], np.int64)
        self._pair_min = (sizes[self._pair_a] + sizes[self._pair_b])[:, None]
        # Slot s of agent i: row of [+f (pairs), -f (pairs), 0] that is its s-th push.
        zero, pushes = 2 * len(pairs), []
        for i in range(a):
            rows = [(j, k) for k, (p, j) in enumerate(pairs) if p == i]
            rows += [(p, len(pairs) + k) for k, (p, j) in enumerate(pairs) if j == i]
            pushes.append([row for _, row in sorted(rows)])
        width = max((len(p) for p in pushes), default=0)
        self._slots = np.array([p + [zero] * (width - len(p)) for p in pushes], np.int64).T
        self._speed_limited = bool(np.isfinite(self.max_speed).any())

    def _physics(self, force: np.ndarray) -> None:
        """`World.step`: contact forces, then integrate (PettingZoo's order and float ops)."""
        if self._contacts:
            entities = self._p
            if self._contact_landmarks:
                entities = np.concatenate([self._p, self._lm])
            delta = entities[self._pair_a] - entities[self._pair_b]  # (pairs, 2, N)
            dist = np.sqrt(np.square(delta[:, 0]) + np.square(delta[:, 1]))
            k = CONTACT_MARGIN
            x = -(dist - self._pair_min) / k
            near = x > _NO_CONTACT
            if near.all():
                penetration = np.logaddexp(0, x) * k
            else:  # np.logaddexp is slow (~30 ns); where exp(x) underflows it is exactly 0
                penetration = np.zeros_like(x)
                penetration[near] = np.logaddexp(0, x[near]) * k
            push = CONTACT_FORCE * delta / dist[:, None] * penetration[:, None]
            signed = np.concatenate([push, -push, np.zeros((1, *push.shape[1:]))])
            for slot in self._slots:  # PettingZoo adds them in the other entity's order
                force += signed[slot]
        self._p += self._v * DT
        self._v *= 1 - DAMPING
        self._v += force * DT
        if self._speed_limited:
            speed = np.sqrt(np.square(self._v[:, 0]) + np.square(self._v[:, 1]))
            over = speed > self.max_speed[:, None]
            if over.any():
                with np.errstate(divide="ignore", invalid="ignore"):  # speed 0: not over
                    limited = self._v / speed[:, None] * self.max_speed[:, None, None]
                np.copyto(self._v, limited, where=over[:, None])
        self._c[:] = 0.0  # every agent of these scenarios is silent


def _batch_of(actions: Batch, agent: str, n: int, shape: tuple[int, ...]) -> np.ndarray:
    if agent not in actions:
        raise KeyError(f"no action for {agent}")
    value = np.asarray(actions[agent])
    if value.shape != shape:
        raise ValueError(f"{agent}: actions of shape {value.shape}, expected {shape}")
    return value


def others_index(count: int) -> np.ndarray:
    """(count, count - 1): for each agent, the other agents in order."""
    return np.array([[j for j in range(count) if j != i] for i in range(count)], np.int64)


def pettingzoo_state(env: Any) -> dict[str, Any]:
    """The `get_state` dict of a PettingZoo MPE env (parallel, AEC or wrapped)."""
    raw = env.unwrapped
    world = raw.world

    def rows(values: list[np.ndarray]) -> np.ndarray:
        return np.array(values, np.float64).reshape(len(values), -1)

    state = {
        "agent_pos": rows([a.state.p_pos for a in world.agents]),
        "agent_vel": rows([a.state.p_vel for a in world.agents]),
        "agent_comm": rows([a.state.c for a in world.agents]),
        "landmark_pos": rows([lm.state.p_pos for lm in world.landmarks]).reshape(-1, 2),
        "steps": int(raw.steps),
        "goal": 0,
    }
    goal = getattr(world.agents[0], "goal_a", None)
    if goal is not None:
        state["goal"] = next(i for i, lm in enumerate(world.landmarks) if lm is goal)
    return state


def set_pettingzoo_state(env: Any, state: Mapping[str, Any]) -> None:
    """Write a `get_state` dict into a PettingZoo MPE env's world (the inverse)."""
    raw = env.unwrapped
    world = raw.world
    for i, agent in enumerate(world.agents):
        agent.state.p_pos = np.array(state["agent_pos"][i], np.float64)
        agent.state.p_vel = np.array(state["agent_vel"][i], np.float64)
        agent.state.c = np.array(state["agent_comm"][i], np.float64)
    for i, landmark in enumerate(world.landmarks):
        landmark.state.p_pos = np.array(state["landmark_pos"][i], np.float64)
    raw.steps = int(state["steps"])
    if hasattr(world.agents[0], "goal_a"):
        for agent in world.agents:
            agent.goal_a = world.landmarks[int(state["goal"])]
