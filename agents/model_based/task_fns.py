"""Known reward and termination functions that planners may use instead of learned ones (PETS
assumes the reward is known, Chua et al. 2018; mbrl-lib's `reward_fns` / `termination_fns`).

Each entry maps (action, next_obs) tensors (..., d) to (reward, done) tensors (...). A learner
names one with `reward_fn: cartpole`; `reward_fn: learned` has the model predict the reward and
never ends a rollout.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

TaskFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def cartpole(action: torch.Tensor, next_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """testbed/cartpole_continuous_v0: 1 while |x| <= 2.4 and |theta| <= 12 deg, done else."""
    done = (next_obs[..., 0].abs() > 2.4) | (next_obs[..., 2].abs() > 12 * 2 * math.pi / 360)
    return (~done).float(), done


def pendulum(action: torch.Tensor, next_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """gym/Pendulum-v1 (obs cos, sin, theta_dot; torque 2 x unit action): -(theta^2 + 0.1
    theta_dot^2 + 0.001 u^2), never done. Uses the next state's angle (the env's uses the
    current one: a one-step shift)."""
    theta = torch.atan2(next_obs[..., 1], next_obs[..., 0])
    torque = 2.0 * action[..., 0].clamp(-1.0, 1.0)
    cost = theta**2 + 0.1 * next_obs[..., 2] ** 2 + 0.001 * torque**2
    return -cost, torch.zeros_like(cost, dtype=torch.bool)


TASK_FNS: dict[str, TaskFn] = {"cartpole": cartpole, "pendulum": pendulum}
OBS_SIZES: dict[str, int] = {"cartpole": 4, "pendulum": 3}
"""The observation size each task function reads (a mismatch means the wrong task)."""


def check_task(name: str, observation_size: int) -> None:
    """ValueError unless task function `name` reads observations of this size."""
    expected = OBS_SIZES.get(name)
    if expected is not None and expected != observation_size:
        raise ValueError(
            f"reward_fn {name!r} reads {expected}-dimensional observations, and this env's "
            f"have {observation_size}: it is another task's (or use reward_fn: learned)"
        )
