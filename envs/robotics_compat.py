"""One compatibility step for gymnasium-robotics' MuJoCo Fetch tasks on mujoco 4.x.

gymnasium-robotics (1.2.2 and 1.4.2) checks a joint's type with
`model.jnt_type[i] in (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE)`. On mujoco
4.x the enum's own `==` is False against a numpy integer (`mjJNT_SLIDE == np.int32(2)`), so
that assertion fails and FetchReach cannot even be built. `apply()` (idempotent, called by the
factories in envs/robotics.py before a task is made) replaces the four joint accessors of
`gymnasium_robotics.utils.mujoco_utils` with equivalents that compare plain ints; they return
and write the same slices of qpos / qvel, except that a ball joint's velocity is 3 wide (its
degrees of freedom; the original reads 4), and a value of the wrong size is a ValueError. It
does nothing where the enum compares correctly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_APPLIED = False


def _needs_patch() -> bool:
    import mujoco

    return not bool(mujoco.mjtJoint.mjJNT_SLIDE == np.int32(int(mujoco.mjtJoint.mjJNT_SLIDE)))


def _joint(model: Any, name: str, velocity: bool) -> tuple[int, int]:
    """(first address, width) of joint `name` in qpos (or qvel when `velocity`)."""
    import mujoco

    joint = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
    if joint < 0:
        raise KeyError(f"the MuJoCo model has no joint {name!r}")
    kind = int(model.jnt_type[joint])
    widths = {
        int(mujoco.mjtJoint.mjJNT_FREE): (7, 6),
        int(mujoco.mjtJoint.mjJNT_BALL): (4, 3),
        int(mujoco.mjtJoint.mjJNT_HINGE): (1, 1),
        int(mujoco.mjtJoint.mjJNT_SLIDE): (1, 1),
    }
    address = model.jnt_dofadr[joint] if velocity else model.jnt_qposadr[joint]
    return int(address), widths[kind][int(velocity)]


def _sized(name: str, value: Any, width: int) -> Any:
    if width == 1:
        return value
    flat = np.asarray(value).reshape(-1)
    if flat.size != width:
        raise ValueError(f"joint {name!r} takes {width} values, got {flat.size}")
    return flat


def set_joint_qpos(model: Any, data: Any, name: str, value: Any) -> None:
    start, width = _joint(model, name, velocity=False)
    data.qpos[start : start + width] = _sized(name, value, width)


def set_joint_qvel(model: Any, data: Any, name: str, value: Any) -> None:
    start, width = _joint(model, name, velocity=True)
    data.qvel[start : start + width] = _sized(name, value, width)


def get_joint_qpos(model: Any, data: Any, name: str) -> np.ndarray:
    start, width = _joint(model, name, velocity=False)
    return data.qpos[start : start + width].copy()


def get_joint_qvel(model: Any, data: Any, name: str) -> np.ndarray:
    start, width = _joint(model, name, velocity=True)
    return data.qvel[start : start + width].copy()


def apply() -> None:
    """Install the int-comparing joint accessors into gymnasium-robotics when needed."""
    global _APPLIED
    if _APPLIED:
        return
    if _needs_patch():
        from gymnasium_robotics.utils import mujoco_utils

        for function in (set_joint_qpos, set_joint_qvel, get_joint_qpos, get_joint_qvel):
            setattr(mujoco_utils, function.__name__, function)
    _APPLIED = True
