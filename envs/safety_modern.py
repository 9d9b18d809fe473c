"""Safety-Gymnasium 1.0.0 on the modern stack (gymnasium 1.x, numpy 2): three small steps.

Safety-Gymnasium 1.0.0 (still its latest release) was written for gymnasium 0.28. On gymnasium
1.x and numpy 2 it breaks in three places (docs/STACK.md, "Safety-Gymnasium on the modern
stack"); `prepare()` is applied once by `testbed.envs.safety_compat`, before the first
``import safety_gymnasium``:

1. Import: it imports five wrapper modules gymnasium 1.0 removed
   (``gymnasium.wrappers.{compatibility,autoreset,env_checker,normalize,time_limit}``).
   `prepare` registers each in `sys.modules` as an alias module holding gymnasium 1.x's class
   of the same role (``TimeLimit``, ``Autoreset`` as ``AutoResetWrapper``, ...); the old API
   compatibility wrapper, which nothing here uses, raises when built.
2. Car robots (numpy 2): ``Agent._init_jnt_sensors`` passes a sensor's ``objid`` (a
   one-element array) to ``model.jnt``, which MuJoCo's bindings reject once numpy 2 no longer
   converts such arrays to an int. For that method only, the agent sees a view of its engine
   whose ``model.jnt`` takes the array's single item.
3. Safe Multi-Agent MuJoCo: gymnasium 1.x wrappers no longer forward attributes, and
   Safety-Gymnasium reads ``model``, ``mujoco_renderer`` and ``get_body_com`` through the
   ``TimeLimit`` around the robot. Its ``MultiAgentMujocoEnv`` is replaced, in
   Safety-Gymnasium's module only, by a subclass whose robot env forwards unknown attributes
   to the unwrapped robot.

`make(task_id, max_episode_steps)` becomes ``safety_gymnasium.make``, replacing its own (a copy of
gymnasium 0.28's, which gymnasium 1.x's registry no longer fits): it builds the registered
task and adds what that ``make`` adds around it for these tasks: ``SafeTimeLimit``
(Safety-Gymnasium's 6-tuple time limit). The passive env checker and the order-enforcing
wrapper it also added change no number, and are left out.

Each step is tested by giving the same rewards and costs as the legacy stack for the same
seed and actions (tests/envs/test_safety_stacks.py).
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

_REMOVED_MODULES = ("compatibility", "autoreset", "env_checker", "normalize", "time_limit")


class _RemovedEnvCompatibility:
    """gymnasium 0.x's old-step-API adapter; no task registered by Safety-Gymnasium uses it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(
            "gymnasium 1.x has no EnvCompatibility (old step API); testbed does not support it"
        )


def _alias_removed_wrappers() -> None:
    import gymnasium.wrappers as wrappers
    from gymnasium.wrappers.utils import RunningMeanStd

    contents = {
        "compatibility": {"EnvCompatibility": _RemovedEnvCompatibility},
        "autoreset": {"AutoResetWrapper": wrappers.Autoreset},
        "env_checker": {"PassiveEnvChecker": wrappers.PassiveEnvChecker},
        "normalize": {
            "NormalizeObservation": wrappers.NormalizeObservation,
            "NormalizeReward": wrappers.NormalizeReward,
            "RunningMeanStd": RunningMeanStd,
        },
        "time_limit": {"TimeLimit": wrappers.TimeLimit},
    }
    for name in _REMOVED_MODULES:
        full = f"gymnasium.wrappers.{name}"
        if full in sys.modules:
            continue
        module = ModuleType(full, f"testbed alias of a module gymnasium 1.0 removed ({__name__})")
        module.__dict__.update(contents[name])
        sys.modules[full] = module


class _ModelView:
    """A MuJoCo model whose ``jnt`` accepts a one-element array (numpy 1.x behaviour)."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def jnt(self, index: Any) -> Any:
        return self._model.jnt(_as_index(index))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class _EngineView:
    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.model = _ModelView(engine.model)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def _as_index(index: Any) -> Any:
    import numpy as np

    if isinstance(index, np.ndarray) and index.size == 1:
        return int(index.reshape(-1)[0])
    return index


def _patch_joint_sensors() -> None:
    from safety_gymnasium.bases.base_agent import BaseAgent

    original = BaseAgent._init_jnt_sensors
    if getattr(original, "_testbed_patched", False):
        return

    def init_jnt_sensors(self: Any) -> None:
        engine = self.engine
        self.engine = _EngineView(engine)
        try:
            original(self)
        finally:
            self.engine = engine

    init_jnt_sensors._testbed_patched = True  # type: ignore[attr-defined]
    BaseAgent._init_jnt_sensors = init_jnt_sensors


def _patch_multi_agent() -> None:
    import gymnasium
    from safety_gymnasium.tasks.safe_multi_agent import safe_mujoco_multi

    base = safe_mujoco_multi.MultiAgentMujocoEnv
    if getattr(base, "_testbed_patched", False):
        return

    class ForwardingWrapper(gymnasium.Wrapper):
        """Pass-through wrapper that forwards unknown attributes to the unwrapped robot, as
        gymnasium 0.x wrappers did."""

        def __getattr__(self, name: str) -> Any:
            if name.startswith("_"):
                raise AttributeError(name)
            return getattr(self.env.unwrapped, name)

    class MultiAgentMujocoEnv(base):  # type: ignore[misc, valid-type]
        _testbed_patched = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.single_agent_env = ForwardingWrapper(self.single_agent_env)

    safe_mujoco_multi.MultiAgentMujocoEnv = MultiAgentMujocoEnv


def prepare() -> None:
    """Step 1; call before the first ``import safety_gymnasium``."""
    _alias_removed_wrappers()


def patch_imported() -> None:
    """Steps 2 and 3, and `make` as ``safety_gymnasium.make``; call once Safety-Gymnasium's
    modules are imported."""
    import safety_gymnasium
    from safety_gymnasium.utils import registration

    _patch_joint_sensors()
    _patch_multi_agent()
    safety_gymnasium.make = registration.make = make


def make(task_id: str, max_episode_steps: int | None = None, **kwargs: Any) -> Any:
    """A registered Safety-Gymnasium task inside ``SafeTimeLimit``, as its own make built it;
    `kwargs` go to the task's constructor, over the registered ones."""
    from gymnasium.envs.registration import load_env_creator, registry
    from safety_gymnasium.utils.registration import safe_registry
    from safety_gymnasium.wrappers import SafeTimeLimit

    if task_id not in safe_registry:
        raise ValueError(f"Safety-Gymnasium has no task {task_id!r}")
    spec = registry[task_id]  # Safety-Gymnasium registers its tasks in gymnasium's registry
    creator = (
        load_env_creator(spec.entry_point)
        if isinstance(spec.entry_point, str)
        else spec.entry_point
    )
    env = creator(**{**spec.kwargs, **kwargs})
    limit = max_episode_steps if max_episode_steps is not None else spec.max_episode_steps
    return SafeTimeLimit(env, limit) if limit is not None else env
