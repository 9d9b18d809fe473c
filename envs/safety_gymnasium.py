"""Safety-Gymnasium 1.0.0 tasks as PettingZoo ParallelEnvs with testbed costs.

Registry ids (extra ``safety``; `make` installs Safety-Gymnasium, see docs/STACK.md):

| id | agents | family |
|---|---|---|
| ``safety/Safety{Point,Car}{Goal,Button,Push,Circle}{0,1,2}-v0`` | agent_0 | navigation |
| ``safety/Safety{HalfCheetah,Hopper,Walker2d,Ant,Humanoid}Velocity-v1`` | agent_0 | velocity |
| ``safety-ma/<scenario>-<agent_conf>``, e.g. ``HalfCheetah-2x3`` | agent_0.. | Safe MaMuJoCo |

A ``safety/`` id is Safety-Gymnasium's own task id; the factory for it is the attribute of this
module named like the id with ``-`` as ``_`` (``SafetyPointGoal1_v0``). `safety_task(task_id=...)`
builds any other single-agent task Safety-Gymnasium registers, `safe_multi_agent_mujoco(...)`
any other multi-agent split (`make_ma`).

Single-agent tasks are one-agent ParallelEnvs (agent ``agent_0``), built with
`safety_gymnasium.make`, so with its usual wrappers (time limit 1000 steps, 500 for Circle).
Safe Multi-Agent MuJoCo (`safety_gymnasium.make_ma`) splits a gymnasium MuJoCo robot into
agents that each move some joints; all agents get the same reward and the same cost.

Spaces: Safety-Gymnasium's own (Box observations: lidar, accelerometer, velocimeter, ... for
navigation; joint positions and velocities for MuJoCo), continuous Box actions in [-1, 1].

Rewards: Safety-Gymnasium's own; navigation rewards progress toward the goal plus a bonus per
goal reached, velocity tasks reward forward speed minus a control cost.

Costs: the step's cost (the 6-tuple's third item) is ``infos[a]["cost"]``; its parts are
``infos[a]["costs"]`` as ``{name: float}`` (empty for level-0 navigation tasks):

- navigation: every ``cost_<name>`` item of Safety-Gymnasium's info except ``cost_sum``, under
  ``<name>``: ``hazards`` (inside a hazard), ``vases_contact``, ``vases_velocity`` (a vase
  touched, a vase moving), ``pillars``, ``buttons`` (pressing a wrong button), ``gremlins``
  (touching a moving gremlin), ``out_of_boundary`` (Circle). Safety-Gymnasium makes each part
  and the cost indicators (``constrain_indicator``): every part is 0.0 or 1.0 and the cost is
  1.0 when any part is, so here the cost is NOT the sum of the parts (Safety-Gymnasium's
  cost is kept as it is, since its benchmarks' budgets are stated in it). `env.cost_names`
  lists the parts after the first reset; the registry's ``costs`` tuple says the same.
- velocity and multi-agent: ``velocity``, 1.0 on a step whose speed is above the task's
  threshold (e.g. 3.2096 m/s for HalfCheetah v1; 3.227 for HalfCheetah 2x3), else 0.0.

All of Safety-Gymnasium's own info items stay in the info dict (e.g. ``cost_hazards``,
``goal_met``, ``x_velocity``). Good play: high return with episode cost under a budget (the
Safety-Gymnasium benchmarks use 25 per episode).

Seeding: ``reset(seed=s)`` seeds the task (layout and physics noise); the same seed and actions
give the same observations, rewards and costs as Safety-Gymnasium directly (tested).

Rendering: ``render_mode="rgb_array"`` gives HxWx3 uint8 frames (``width`` x ``height``) from a
named camera of the model (``fixedfar``, top-down, by default for navigation; ``track`` for
MuJoCo robots), through `testbed.envs._mujoco_camera` (which explains why not gymnasium's
renderer); headless machines use EGL unless ``MUJOCO_GL`` says otherwise.

Not here: Swimmer (``SafetySwimmerVelocity-v1`` and ``make_ma('Swimmer', '2x1')``): its XML uses
an option attribute mujoco >= 3 rejects. Vision tasks work through `safety_task` (Dict
observations) but are not registered.

Version history: v0, Safety-Gymnasium 1.0.0 with gymnasium 0.29.1 and mujoco 4.0.0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from testbed.envs._mujoco_camera import MujocoCamera
from testbed.envs.safety_compat import import_safety_gymnasium

AGENT = "agent_0"
NAVIGATION_TASKS = tuple(
    f"Safety{robot}{task}{level}-v0"
    for task in ("Goal", "Button", "Push", "Circle")
    for level in (0, 1, 2)
    for robot in ("Point", "Car")
)
VELOCITY_TASKS = tuple(
    f"Safety{robot}Velocity-v1"
    for robot in ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid")
)
MULTI_AGENT_TASKS = (
    ("HalfCheetah", "2x3"),
    ("HalfCheetah", "6x1"),
    ("Ant", "2x4"),
    ("Ant", "4x2"),
    ("Hopper", "3x1"),
    ("Walker2d", "2x3"),
    ("Humanoid", "9|8"),
)


def _check_render(render_mode: str | None, width: int, height: int) -> None:
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
    if width < 1 or height < 1:
        raise ValueError(f"width and height must be positive, got {width}x{height}")


class SafetyTaskEnv(ParallelEnv):
    """One Safety-Gymnasium single-agent task as a one-agent ParallelEnv (agent ``agent_0``)."""

    def __init__(
        self,
        task_id: str,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
        width: int = 256,
        height: int = 256,
        camera_name: str | None = None,
    ) -> None:
        _check_render(render_mode, width, height)
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be positive, got {max_episode_steps}")
        safety_gymnasium = import_safety_gymnasium()
        if task_id not in safety_gymnasium.utils.registration.safe_registry:
            raise ValueError(f"Safety-Gymnasium has no task {task_id!r}")
        self.task_id = task_id
        self._env = safety_gymnasium.make(task_id, max_episode_steps=max_episode_steps)
        base = self._env.unwrapped
        self._navigation = hasattr(base, "task")  # the Builder of navigation tasks
        self._model_owner = base.task if self._navigation else base
        self.render_mode = render_mode
        self._camera = (
            MujocoCamera(
                width, height, camera_name or ("fixedfar" if self._navigation else "track")
            )
            if render_mode is not None
            else None
        )
        self.metadata = {
            "name": task_id.replace("-", "_"),
            "render_modes": ["rgb_array"],
            "is_parallelizable": True,
            "render_fps": self._env.metadata.get("render_fps", 30),
        }
        self.possible_agents = [AGENT]
        self.agents: list[str] = []
        self.observation_spaces = {AGENT: self._env.observation_space}
        self.action_spaces = {AGENT: self._env.action_space}
        self.cost_names: tuple[str, ...] = () if self._navigation else ("velocity",)
        self._observation: np.ndarray | None = None

    def observation_space(self, agent: str) -> Any:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> Any:
        return self.action_spaces[agent]

    def _costs(self, cost: float, info: dict) -> dict[str, float]:
        if self._navigation:
            return {name: float(info.get(f"cost_{name}", 0.0)) for name in self.cost_names}
        return {"velocity": float(cost)}

    def reset(self, seed: int | None = None, options: dict | None = None):
        observation, info = self._env.reset(seed=seed, options=options)
        if self._navigation:  # the Builder computes the world's costs on reset
            parts = [k for k in self._env.unwrapped.cost if k.startswith("cost_")]
            self.cost_names = tuple(sorted(k[5:] for k in parts if k != "cost_sum"))
        self.agents = [AGENT]
        self._observation = observation
        info = {**info, "cost": 0.0, "costs": dict.fromkeys(self.cost_names, 0.0)}
        return {AGENT: observation}, {AGENT: info}

    def step(self, actions: dict[str, Any]):
        if AGENT not in actions:
            raise KeyError(f"no action for {AGENT!r}")
        observation, reward, cost, terminated, truncated, info = self._env.step(actions[AGENT])
        info = {**info, "cost": float(cost), "costs": self._costs(cost, info)}
        self._observation = observation
        if terminated or truncated:
            self.agents = []
        return (
            {AGENT: observation},
            {AGENT: float(reward)},
            {AGENT: bool(terminated)},
            {AGENT: bool(truncated)},
            {AGENT: info},
        )

    def state(self) -> np.ndarray:
        """The agent's last observation: with one agent it is all the env shows."""
        if self._observation is None:
            raise RuntimeError("call reset() before state()")
        return self._observation

    def render(self) -> np.ndarray | None:
        if self._camera is None:
            return None
        return self._camera.render(self._model_owner.model, self._model_owner.data)

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()
        self._env.close()


class SafeMultiAgentMujocoEnv(ParallelEnv):
    """Safe Multi-Agent MuJoCo (`safety_gymnasium.make_ma`) as a standard ParallelEnv."""

    def __init__(
        self,
        scenario: str,
        agent_conf: str,
        agent_obsk: int = 1,
        render_mode: str | None = None,
        max_episode_steps: int = 1000,
        width: int = 480,
        height: int = 480,
        camera_name: str = "track",
    ) -> None:
        _check_render(render_mode, width, height)
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be positive, got {max_episode_steps}")
        safety_gymnasium = import_safety_gymnasium()
        self._env = safety_gymnasium.make_ma(
            scenario, agent_conf, agent_obsk=agent_obsk, max_episode_steps=max_episode_steps
        )
        self._robot = self._env.env.single_agent_env.unwrapped
        self.scenario, self.agent_conf = scenario, agent_conf
        self.render_mode = render_mode
        self._camera = MujocoCamera(width, height, camera_name) if render_mode is not None else None
        conf = agent_conf.replace("|", "_")
        self.metadata = {
            "name": f"safe_ma_{scenario.lower()}_{conf}_v0",
            "render_modes": ["rgb_array"],
            "is_parallelizable": True,
            "render_fps": self._robot.metadata.get("render_fps", 20),
        }
        self.possible_agents = list(self._env.possible_agents)
        self.agents: list[str] = []
        self.observation_spaces = {a: self._env.observation_space(a) for a in self.possible_agents}
        self.action_spaces = {a: self._env.action_space(a) for a in self.possible_agents}
        self.cost_names = ("velocity",)

    def observation_space(self, agent: str) -> Any:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> Any:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None):
        observations, infos = self._env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        infos = {
            a: {**infos[a], "cost": 0.0, "costs": {"velocity": 0.0}} for a in self.possible_agents
        }
        return dict(observations), infos

    def step(self, actions: dict[str, Any]):
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise KeyError(f"no action for {missing}")
        observations, rewards, costs, terminations, truncations, infos = self._env.step(actions)
        infos = {  # Safety-Gymnasium shares one info dict between agents: copy it per agent
            a: {**infos[a], "cost": float(costs[a]), "costs": {"velocity": float(costs[a])}}
            for a in self.possible_agents
        }
        rewards = {a: float(r) for a, r in rewards.items()}
        terminations = {a: bool(t) for a, t in terminations.items()}
        truncations = {a: bool(t) for a, t in truncations.items()}
        if any(terminations.values()) or any(truncations.values()):
            self.agents = []
        return dict(observations), rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        return self._env.state()

    def render(self) -> np.ndarray | None:
        if self._camera is None:
            return None
        return self._camera.render(self._robot.model, self._robot.data)

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()
        self._env.close()


# ---------------------------------------------------------------------------------------------
# Factories, one per family; the registry's entries bind them to one task each
# (testbed/registry/catalog_safety.py).


def safety_task(
    task_id: str = "SafetyPointGoal1-v0",
    render_mode: str | None = None,
    max_episode_steps: int | None = None,
    width: int = 256,
    height: int = 256,
    camera_name: str | None = None,
) -> SafetyTaskEnv:
    """Any single-agent Safety-Gymnasium task by its id, as a one-agent ParallelEnv.

    `max_episode_steps` shortens the task's time limit (navigation tasks also end at their
    own 1000 steps); `camera_name` defaults to ``fixedfar`` (navigation) or ``track``.
    """
    return SafetyTaskEnv(task_id, render_mode, max_episode_steps, width, height, camera_name)


def safe_multi_agent_mujoco(
    scenario: str = "HalfCheetah",
    agent_conf: str = "2x3",
    agent_obsk: int = 1,
    render_mode: str | None = None,
    max_episode_steps: int = 1000,
    width: int = 480,
    height: int = 480,
    camera_name: str = "track",
) -> SafeMultiAgentMujocoEnv:
    """Safe MaMuJoCo `scenario` split as `agent_conf` (agents x joints each); `agent_obsk`
    is how many joints away each agent observes."""
    return SafeMultiAgentMujocoEnv(
        scenario,
        agent_conf,
        agent_obsk,
        render_mode,
        max_episode_steps,
        width,
        height,
        camera_name,
    )
