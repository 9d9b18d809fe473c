"""Offscreen RGB frames of a MuJoCo model, from one of its named cameras.

Used by the Safety-Gymnasium adapters instead of gymnasium 0.29's `MujocoRenderer`, for two
reasons seen with mujoco 4.0.0 on headless machines:

- with `MUJOCO_GL` unset, gymnasium tries GLFW first, which aborts the whole process
  (`libc++abi: __cxa_guard_acquire detected recursive initialization`), and `mujoco.Renderer`
  is bound to GLFW as soon as `import gymnasium` has imported mujoco (through the
  gymnasium-robotics plugin), before any env code runs;
- Safety-Gymnasium's navigation render draws its lidar/cost markers through gymnasium's
  `_add_marker_to_scene`, which leaves fields of mujoco 4's `mjvGeom` unset; `mjr_render` then
  segfaults (seen on SafetyPointGoal1 with lidar markers, SafetyPointCircle1 without).

So the GL backend is chosen here, per camera: `MUJOCO_GL` when set (egl, osmesa or glfw), else
GLFW when a display exists and EGL when none does. No markers are drawn: frames show the
world as simulated (all geom groups visible, like Safety-Gymnasium's own render).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import numpy as np

_BACKENDS = ("egl", "osmesa", "glfw")


def gl_backend() -> str:
    """The GL backend to use: `MUJOCO_GL` if set, else glfw with a display, egl without."""
    chosen = os.environ.get("MUJOCO_GL", "").strip().lower()
    if chosen:
        if chosen not in _BACKENDS:
            raise RuntimeError(f"MUJOCO_GL={chosen!r}; offscreen frames need one of {_BACKENDS}")
        return chosen
    headless = sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
    return "egl" if headless else "glfw"


class MujocoCamera:
    """Renders MuJoCo states as HxWx3 uint8 frames seen from the camera `camera_name`.

    `render(model, data)` takes the model each time: Safety-Gymnasium's navigation tasks build
    a new model on every reset, and the scene and render context follow it. The GL context
    is created at the first `render`, so an env that never renders never needs GL.
    """

    def __init__(self, width: int, height: int, camera_name: str) -> None:
        self._gl: Any = None
        self._size = (width, height)
        self._camera_name = camera_name
        self._model: Any = None
        self._frame = np.empty((height, width, 3), dtype=np.uint8)

    def _open_gl(self) -> None:
        backend = gl_backend()
        width, height = self._size
        try:
            self._gl = importlib.import_module(f"mujoco.{backend}").GLContext(width, height)
        except Exception as exc:  # the GL libraries raise many kinds of errors
            raise RuntimeError(
                f"cannot create a MuJoCo {backend} GL context ({exc!r}); headless Linux needs "
                "libEGL (Debian/Ubuntu package libegl1, with a Mesa or NVIDIA driver) for "
                "MUJOCO_GL=egl, or libOSMesa (libosmesa6) for MUJOCO_GL=osmesa"
            ) from exc

    def _bind(self, model: Any) -> None:
        import mujoco

        camera_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, self._camera_name)
        if camera_id < 0:
            names = [model.camera(i).name for i in range(model.ncam)]
            raise ValueError(f"camera {self._camera_name!r} not in the model; it has {names}")
        width, height = self._size
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        if self._model is not None:
            self._context.free()
        self._scene = mujoco.MjvScene(model, maxgeom=10_000)
        self._option = mujoco.MjvOption()
        self._option.geomgroup[:] = 1
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._camera.fixedcamid = camera_id
        self._context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        self._viewport = mujoco.MjrRect(0, 0, width, height)
        self._model = model

    def render(self, model: Any, data: Any) -> np.ndarray:
        import mujoco

        if self._gl is None:
            self._open_gl()
        self._gl.make_current()
        if model is not self._model:
            self._bind(model)
        mujoco.mjv_updateScene(
            model,
            data,
            self._option,
            None,
            self._camera,
            mujoco.mjtCatBit.mjCAT_ALL,
            self._scene,
        )
        mujoco.mjr_render(self._viewport, self._scene, self._context)
        mujoco.mjr_readPixels(self._frame, None, self._viewport, self._context)
        return np.flipud(self._frame).copy()

    def close(self) -> None:
        if self._gl is None:
            return
        if self._model is not None:
            self._gl.make_current()
            self._context.free()
            self._model = None
        self._gl.free()
        self._gl = None
