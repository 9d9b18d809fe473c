"""goal_hierarchy: a two-level goal hierarchy with off-policy subgoal correction, after HIRO
(Nachum, Gu, Lee & Levine 2018, "Data-Efficient Hierarchical Reinforcement Learning",
NeurIPS; arXiv:1805.08296).

For goal-conditioned envs (`{"observation", "achieved_goal", "desired_goal"}`, e.g.
`robotics/PointMaze`). Both levels are TD3 learners (agents/continuous/td3.py):

- high level: every `k` env steps, from [observation, desired_goal], picks a subgoal g: an
  offset in achieved-goal space, each coordinate in [-subgoal_range, subgoal_range]; its reward
  is `high_reward_scale` times the env rewards summed over those k steps; it bootstraps
  from the observation k steps later (not when the episode terminated);
- low level: from [observation, g_t] picks the env action; its reward is
  -||ag_t + g_t - ag_{t+1}|| (or, with `low_reward: sparse`, 0 within `low_radius` and -1
  outside); g_{t+1} = ag_t + g_t - ag_{t+1} (agents/hierarchical/subgoals.py); it never
  terminates (only the subgoal changes).

When the high level trains, each sampled subgoal is relabelled by the off-policy correction
(`correction`, subgoals.py): the candidate among the original, the achieved displacement and
`candidates` Gaussian samples around it (std `candidate_std` x subgoal_range) under which the
current low level's actions best explain the stored ones. `high_her` adds hindsight goals for
the high level's desired goal (as `her:` on flat learners).

Behaviour: uniform random actions at both levels for the first `learning_starts` env steps,
then mu(s) + N(0, noise^2) in unit-action space. `act` (evaluation) is noise-free and keeps its
own subgoal, restarted by `reset()`; `explore`'s subgoal restarts after each episode's last
transition. The active subgoal is visible: `active_subgoal` (absolute target in achieved-goal
space) and `subgoal_steps` (env steps since it was set). Defaults follow HIRO where the paper
gives them (k = 10, TD3 at both levels, reward scale 0.1, 8 Gaussian candidates, std 0.5 x
range); single env copy (no batched training).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.common.her import HERConfig, check_her
from testbed.agents.common.spaces import goal_parts, goal_vector, is_goal_space, require_box
from testbed.agents.continuous.td3 import TD3, TD3Config
from testbed.agents.hierarchical.subgoals import (
    SegmentReplay,
    hindsight_segments,
    low_reward,
    next_subgoal,
    pick_subgoals,
    subgoal_candidates,
)


@dataclass(frozen=True)
class GoalHierarchyConfig:
    """Goal hierarchy hyperparameters (HIRO's where it gives them)."""

    k: int = 10
    """Env steps per subgoal (the high level acts every k steps)."""
    subgoal_range: float = 1.0
    """Bound on each coordinate of a subgoal offset, in achieved-goal units."""
    low_reward: str = "dense"
    """'dense' (-||ag + g - ag'||) or 'sparse' (0 within low_radius of the target, else -1)."""
    low_radius: float = 0.2
    """Radius of the sparse low-level reward."""
    correction: bool = True
    """Relabel the high level's subgoals by the off-policy correction when training it."""
    candidates: int = 8
    """Gaussian candidates around the achieved displacement (plus original and displacement)."""
    candidate_std: float = 0.5
    """Std of the Gaussian candidates, as a fraction of subgoal_range."""
    high_reward_scale: float = 0.1
    """The high level's reward is this times the env rewards summed over its segment."""
    high_her: HERConfig | None = None
    """Hindsight goals for the high level, e.g. `{strategy: future, k: 4,
    distance_threshold: 0.45}` (copies per segment; the relabelled segment ends on success if
    terminate_on_success)."""
    learning_rate: float = 1e-3
    """Adam step size of both levels' actors and critics."""
    buffer_size: int = 200_000
    """Low-level replay capacity in env steps (the high level keeps buffer_size // k segments)."""
    learning_starts: int = 1000
    """Env steps of uniform random actions (both levels) before the first update."""
    batch_size: int = 256
    """Minibatch size of both levels."""
    tau: float = 0.005
    """Polyak factor of the target networks."""
    gamma: float = 0.99
    """Low-level discount per env step."""
    high_gamma: float = 0.99
    """High-level discount per segment."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of both levels' actors and critics."""
    low_noise: float = 0.2
    """Low-level behaviour noise std (unit-action space)."""
    high_noise: float = 0.2
    """High-level behaviour noise std (unit space, i.e. in units of subgoal_range)."""
    high_train_freq: int = 10
    """One high-level gradient step per this many env steps (the low level: every step)."""


class _Segment:
    """What one level of acting tracks between subgoals: the subgoal and its age, and (when
    exploring) the segment being recorded."""

    def __init__(self) -> None:
        self.subgoal: np.ndarray | None = None
        self.unit: np.ndarray | None = None
        self.age = 0
        self.start: dict[str, Any] | None = None
        self.low_obs: list[np.ndarray] = []
        self.achieved: list[np.ndarray] = []
        self.low_actions: list[np.ndarray] = []
        self.reward = 0.0


class GoalHierarchy:
    """High-level TD3 setting subgoal offsets every k steps for a goal-conditioned low-level
    TD3; off-policy subgoal correction; goal-dict observations and Box actions."""

    Config = GoalHierarchyConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: GoalHierarchyConfig | None = None,
    ):
        self.config = c = config or GoalHierarchyConfig()
        _check(c, observation_space, action_space)
        self.observation_space = observation_space
        self.obs_len, self.goal_len = goal_parts(observation_space)
        self.goal_slice = slice(self.obs_len, self.obs_len + self.goal_len)
        base = TD3Config(
            learning_rate=c.learning_rate,
            batch_size=c.batch_size,
            tau=c.tau,
            hidden=tuple(c.hidden),
            learning_starts=c.learning_starts,
        )
        low_space = spaces.Box(-np.inf, np.inf, (self.obs_len + self.goal_len,), np.float32)
        self.low = TD3(
            low_space,
            action_space,
            replace(base, gamma=c.gamma, exploration_noise=c.low_noise, buffer_size=c.buffer_size),
        )
        bound = np.full(self.goal_len, c.subgoal_range, np.float32)
        high_space = spaces.Box(-np.inf, np.inf, (self.obs_len + self.goal_len,), np.float32)
        self.high = TD3(
            high_space,
            spaces.Box(-bound, bound),
            replace(base, gamma=c.high_gamma, exploration_noise=c.high_noise, buffer_size=1),
        )
        self.segments = SegmentReplay(
            max(1, c.buffer_size // c.k),
            self.obs_len + self.goal_len,
            self.obs_len,
            self.goal_len,
            self.low.scaler.dim,
            c.k,
        )
        self.episode: list[dict[str, Any]] = []
        self._explore, self._act = _Segment(), _Segment()
        self.steps = 0
        self.high_updates = 0
        self._high_updated = 0
        self.corrected_share = 0.0  # share of the last high batch whose subgoal changed

    # -- what users can look at ---------------------------------------------------------------
    @property
    def active_subgoal(self) -> np.ndarray | None:
        """The acting level's current subgoal as an absolute achieved-goal target."""
        return None if self._act.start is None else self._act.start["target"]

    @property
    def subgoal_steps(self) -> int:
        """Env steps since `act`'s current subgoal was set."""
        return self._act.age

    # -- acting -------------------------------------------------------------------------------
    def _parts(self, observation: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(high input [observation, desired], low observation part, achieved goal)."""
        high = goal_vector(self.observation_space, observation)
        achieved = np.asarray(
            spaces.flatten(
                self.observation_space.spaces["achieved_goal"], observation["achieved_goal"]
            ),
            np.float32,
        )
        return high, high[: self.obs_len], achieved

    def _step(self, state: _Segment, observation: Any, noisy: bool) -> np.ndarray:
        c = self.config
        high, low_obs, achieved = self._parts(observation)
        if state.subgoal is None or state.age >= c.k:
            warm = noisy and self.steps < c.learning_starts
            with torch.no_grad():
                unit = self.high.actor(torch.from_numpy(high)).numpy()
            if warm:
                unit = 2.0 * torch.rand(self.goal_len).numpy() - 1.0
            elif noisy:
                unit = unit + c.high_noise * torch.randn(self.goal_len).numpy()
            state.unit = np.clip(unit, -1.0, 1.0).astype(np.float32)
            state.subgoal = state.unit * np.float32(c.subgoal_range)
            state.age = 0
            state.start = {
                "obs": high,
                "subgoal": state.subgoal.copy(),
                "target": achieved + state.subgoal,
            }
            state.low_obs, state.achieved, state.low_actions, state.reward = [], [achieved], [], 0.0
        x = torch.from_numpy(np.concatenate([low_obs, state.subgoal]).astype(np.float32))
        with torch.no_grad():
            unit = self.low.actor(x).numpy()
        if noisy and self.steps < c.learning_starts:
            unit = 2.0 * torch.rand(self.low.scaler.dim).numpy() - 1.0
        elif noisy:
            unit = unit + c.low_noise * torch.randn(self.low.scaler.dim).numpy()
        unit = np.clip(unit, -1.0, 1.0).astype(np.float32)
        if noisy:
            state.low_obs.append(low_obs)
            state.low_actions.append(unit)
        else:  # act: advance the subgoal here (explore does it in observe)
            state.age += 1
        return self.low.scaler.to_env(unit)

    def reset(self, seed: int | None = None) -> None:
        """Restart `act`'s subgoal (an evaluation episode begins)."""
        self._act = _Segment()

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.ndarray:
        """Noise-free action of the low level under the current (every k steps new) subgoal.
        Without a next observation the subgoal is not carried along between decisions: the
        absolute target `active_subgoal` stays, the offset is recomputed from it."""
        state = self._act
        if state.subgoal is not None and state.age < self.config.k:
            achieved = self._parts(observation)[2]
            state.subgoal = state.start["target"] - achieved  # = h(ag, g, ag') step by step
        return self._step(state, observation, noisy=False)

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> np.ndarray:
        """Uniform at both levels while warming up, then noisy high and low actions."""
        return self._step(self._explore, observation, noisy=True)

    # -- learning -----------------------------------------------------------------------------
    def observe(self, transition: dict[str, Any]) -> None:
        """Store the low-level step; close the segment after k steps or at the episode's end."""
        c, state = self.config, self._explore
        _, low_obs, achieved = self._parts(transition["obs"])
        next_high, next_low_obs, next_achieved = self._parts(transition["next_obs"])
        radius = c.low_radius if c.low_reward == "sparse" else None
        reward = low_reward(achieved, state.subgoal, next_achieved, radius)
        carried = next_subgoal(achieved, state.subgoal, next_achieved).astype(np.float32)
        self.low.buffer.add(
            np.concatenate([low_obs, state.subgoal]),
            state.low_actions[-1],
            reward,
            0.0,
            np.concatenate([next_low_obs, carried]),
            False,
        )
        self.low.steps += 1
        self.steps += 1
        state.achieved.append(next_achieved)
        state.reward += float(transition["reward"])
        state.subgoal, state.age = carried, state.age + 1
        ended = bool(transition["terminated"] or transition["truncated"])
        if state.age >= c.k or ended:
            segment = {
                **state.start,
                "next_obs": next_high,
                "done": bool(transition["terminated"]),
                "reward": c.high_reward_scale * state.reward,
                "low_obs": np.stack(state.low_obs),
                "achieved": np.stack(state.achieved),
                "low_actions": np.stack(state.low_actions),
            }
            self.segments.add(segment)
            self.episode.append(segment)
            state.age = c.k  # a new subgoal at the next explore
        if ended:
            if c.high_her is not None:
                for relabelled in hindsight_segments(
                    self.episode, c.high_her, self.goal_slice, c.high_reward_scale
                ):
                    self.segments.add(relabelled)
            self.episode = []
            self._explore = _Segment()

    def update(self) -> dict[str, float]:
        """Low-level TD3 steps for the env steps due; a high-level step every high_train_freq
        env steps (subgoals corrected first); the last metrics of each, or {}."""
        metrics = {f"low_{k}": v for k, v in self.low.update().items()}
        c = self.config
        start = max(self._high_updated + 1, c.learning_starts, 1)
        due = max(0, self.steps // c.high_train_freq - (start - 1) // c.high_train_freq)
        self._high_updated = self.steps
        for _ in range(due if len(self.segments) else 0):
            metrics.update({f"high_{k}": v for k, v in self._high_step().items()})
        return metrics

    def _high_step(self) -> dict[str, float]:
        c = self.config
        batch = self.segments.sample(c.batch_size)
        subgoals = batch["subgoals"]
        if c.correction:
            lengths = batch["lengths"]
            rows = torch.arange(len(lengths))
            displacement = batch["achieved"][rows, lengths] - batch["achieved"][:, 0]
            candidates = subgoal_candidates(
                subgoals,
                displacement,
                c.subgoal_range,
                c.candidates,
                c.candidate_std * c.subgoal_range,
            )
            chosen, best = pick_subgoals(
                self.low.actor,
                candidates,
                batch["low_obs"],
                batch["achieved"],
                batch["low_actions"],
                lengths,
            )
            self.corrected_share = float((best != 0).float().mean())
            subgoals = chosen
        step = {
            "obs": batch["obs"],
            "actions": (subgoals / c.subgoal_range).clamp(-1.0, 1.0),
            "rewards": batch["rewards"],
            "next_obs": batch["next_obs"],
            "dones": batch["dones"],
        }
        self.high_updates += 1
        out = self.high.train_on(step)
        return {**out, "corrected": self.corrected_share} if c.correction else out

    # -- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "low": self.low.state_dict(),
            "high": self.high.state_dict(),
            "steps": self.steps,
            "high_updates": self.high_updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.low.load_state_dict(state["low"])
        self.high.load_state_dict(state["high"])
        self.steps = self._high_updated = int(state["steps"])
        self.high_updates = int(state["high_updates"])
        self.episode = []
        self._explore, self._act = _Segment(), _Segment()


def _check(c: GoalHierarchyConfig, observation_space: spaces.Space, action_space: Any) -> None:
    """One clear ValueError for a parameter or env this learner cannot work with."""
    if not is_goal_space(observation_space):
        raise ValueError(
            "goal_hierarchy needs a goal-conditioned Dict observation (observation, "
            f"achieved_goal, desired_goal), got {observation_space}"
        )
    require_box(action_space, "goal_hierarchy")
    positive = {
        "k": c.k,
        "subgoal_range": c.subgoal_range,
        "low_radius": c.low_radius,
        "learning_rate": c.learning_rate,
        "buffer_size": c.buffer_size,
        "batch_size": c.batch_size,
        "high_train_freq": c.high_train_freq,
        "high_reward_scale": c.high_reward_scale,
    }
    for name, value in positive.items():
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    for name, value in {
        "candidates": c.candidates,
        "candidate_std": c.candidate_std,
        "learning_starts": c.learning_starts,
        "low_noise": c.low_noise,
        "high_noise": c.high_noise,
    }.items():
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    for name, value in {"tau": c.tau, "gamma": c.gamma, "high_gamma": c.high_gamma}.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    if c.low_reward not in ("dense", "sparse"):
        raise ValueError(f"low_reward must be 'dense' or 'sparse', got {c.low_reward!r}")
    if c.high_her is not None:
        check_her(c.high_her, observation_space)
