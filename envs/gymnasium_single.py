"""Gymnasium single-agent tasks as one-agent PettingZoo ParallelEnvs.

The agent is named `agent_0`; its spaces are the task's. Rewards, terminations and
truncations (the task's own time limit, or `max_episode_steps`) pass through unchanged, and
`infos["agent_0"]["cost"]` is the task's `info["cost"]` when it has one, else 0.0. Every
registered `gym/<Task>` id is a factory below; `gym/any` wraps any Gymnasium id
(`task: LunarLander-v2`, `kwargs: {...}`).

Version history: v0 (this module) wraps gymnasium 0.29 tasks; on gymnasium 1.x the same
factories wrap that release's tasks, with its ids for CliffWalking and Taxi (docs/STACK.md).
"""

from __future__ import annotations

from typing import Any

import gymnasium
from pettingzoo import ParallelEnv

from testbed._stack import gym_id

AGENT = "agent_0"


class GymnasiumAgentEnv(ParallelEnv):
    """One gymnasium.Env seen as a ParallelEnv with the single agent `agent_0`."""

    def __init__(self, env: gymnasium.Env):
        self.env = env
        task = env.spec.id if env.spec is not None else type(env).__name__
        self.metadata = {
            "name": f"gym/{task}",
            "render_modes": list(env.metadata.get("render_modes", [])),
            "is_parallelizable": True,
        }
        self.render_mode = env.render_mode
        self.possible_agents = [AGENT]
        self.agents: list[str] = []
        self._observation_space = env.observation_space
        self._action_space = env.action_space

    def observation_space(self, agent: str) -> gymnasium.Space:
        return self._observation_space

    def action_space(self, agent: str) -> gymnasium.Space:
        return self._action_space

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        observation, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self.env.action_space.seed(seed)
        self.agents = [AGENT]
        return {AGENT: observation}, {AGENT: _with_cost(info)}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        observation, reward, terminated, truncated, info = self.env.step(actions[AGENT])
        if terminated or truncated:
            self.agents = []
        return (
            {AGENT: observation},
            {AGENT: float(reward)},
            {AGENT: bool(terminated)},
            {AGENT: bool(truncated)},
            {AGENT: _with_cost(info)},
        )

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        self.env.close()

    def state(self) -> Any:
        raise NotImplementedError("gymnasium tasks have no global state beyond the observation")


def _with_cost(info: dict[str, Any]) -> dict[str, Any]:
    info = dict(info)
    info["cost"] = float(info.get("cost", 0.0))
    return info


def _make(task: str, max_episode_steps: int | None, render_mode: str | None, **kwargs: Any):
    env = gymnasium.make(
        task, max_episode_steps=max_episode_steps, render_mode=render_mode, **kwargs
    )
    return GymnasiumAgentEnv(env)


def any_task(
    task: str = "CartPole-v1",
    max_episode_steps: int | None = None,
    render_mode: str | None = None,
    kwargs: dict[str, Any] | None = None,
) -> GymnasiumAgentEnv:
    """Any registered Gymnasium id, e.g. `task: Acrobot-v1`, with its make() `kwargs`."""
    try:
        gymnasium.spec(task)
    except gymnasium.error.Error as exc:
        raise ValueError(f"gymnasium has no task {task!r}: {exc}") from exc
    return _make(task, max_episode_steps, render_mode, **(kwargs or {}))


def cartpole_v1(
    max_episode_steps: int | None = None,
    render_mode: str | None = None,
    gravity: float = 9.8,
    length: float = 0.5,
    masspole: float = 0.1,
    masscart: float = 1.0,
    force_mag: float = 10.0,
):
    """CartPole-v1; its physics (`length`: half the pole, `gravity`, masses, `force_mag`) can
    vary, e.g. for transfer between variants or a `tasks:` distribution."""
    for name, value in (("gravity", gravity), ("length", length), ("masspole", masspole),
                        ("masscart", masscart), ("force_mag", force_mag)):  # fmt: skip
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    env = _make("CartPole-v1", max_episode_steps, render_mode)
    physics = env.env.unwrapped
    physics.gravity, physics.length, physics.force_mag = gravity, length, force_mag
    physics.masspole, physics.masscart = masspole, masscart
    physics.total_mass = masspole + masscart
    physics.polemass_length = masspole * length
    return env


def acrobot_v1(max_episode_steps: int | None = None, render_mode: str | None = None):
    return _make("Acrobot-v1", max_episode_steps, render_mode)


def mountain_car_v0(max_episode_steps: int | None = None, render_mode: str | None = None):
    return _make("MountainCar-v0", max_episode_steps, render_mode)


def mountain_car_continuous_v0(
    max_episode_steps: int | None = None, render_mode: str | None = None
):
    return _make("MountainCarContinuous-v0", max_episode_steps, render_mode)


def pendulum_v1(
    max_episode_steps: int | None = None, render_mode: str | None = None, g: float = 10.0
):
    return _make("Pendulum-v1", max_episode_steps, render_mode, g=g)


def frozen_lake_v1(
    max_episode_steps: int | None = None,
    render_mode: str | None = None,
    map_name: str = "4x4",
    is_slippery: bool = True,
):
    return _make(
        "FrozenLake-v1", max_episode_steps, render_mode, map_name=map_name, is_slippery=is_slippery
    )


def cliff_walking(max_episode_steps: int | None = 500, render_mode: str | None = None):
    """CliffWalking-v0 (gymnasium < 1.0) or CliffWalking-v1 (gymnasium 1.x): `_stack.gym_id`."""
    return _make(gym_id("CliffWalking"), max_episode_steps, render_mode)


def taxi(max_episode_steps: int | None = None, render_mode: str | None = None):
    """Taxi-v3 (gymnasium < 1.0) or Taxi-v4 (gymnasium 1.x): `_stack.gym_id`."""
    return _make(gym_id("Taxi"), max_episode_steps, render_mode)


def inverted_pendulum_v4(max_episode_steps: int | None = None, render_mode: str | None = None):
    return _make("InvertedPendulum-v4", max_episode_steps, render_mode)


def half_cheetah_v4(max_episode_steps: int | None = None, render_mode: str | None = None):
    return _make("HalfCheetah-v4", max_episode_steps, render_mode)
