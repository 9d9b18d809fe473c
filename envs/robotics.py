"""gymnasium-robotics goal-conditioned tasks as one-agent PettingZoo ParallelEnvs (for `her:`).

`robotics/FetchReach`: move the Fetch arm's gripper to a 3-D target (Plappert et al. 2018);
observation `{"observation": 10, "achieved_goal": 3, "desired_goal": 3}`, actions in
[-1, 1]^4, 50 steps, reward -1 per step away from the target (0 within 5 cm; `dense`: minus
the distance), `infos[agent]["is_success"]`. It is FetchReach-v2 on the legacy stack
(gymnasium-robotics 1.2.2) and FetchReach-v4 on the modern one (1.4.2); both need a
compatibility step on mujoco 4.x (envs/robotics_compat.py).

gymnasium-robotics is installed with `--no-deps` by `make` (docs/STACK.md, trap 1); without
its plugin entry point its ids are registered here, once.

Version history: v0 (this module).
"""

from __future__ import annotations

from typing import Any

import gymnasium

from testbed._stack import gym_id
from testbed.envs.gymnasium_single import GymnasiumAgentEnv


def _robotics() -> None:
    try:
        import gymnasium_robotics
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "robotics/ envs need gymnasium-robotics and mujoco: `make` installs them "
            "(pip install --no-deps gymnasium-robotics; pip install mujoco)",
            name=exc.name,
        ) from exc
    from testbed.envs import robotics_compat

    if gym_id("FetchReach") not in gymnasium.registry:
        gymnasium_robotics.register_robotics_envs()
    robotics_compat.apply()


def fetch_reach(
    dense: bool = False,
    max_episode_steps: int | None = None,
    render_mode: str | None = None,
) -> GymnasiumAgentEnv:
    """FetchReach (sparse reward, or `dense`), 50 steps unless `max_episode_steps`."""
    _robotics()
    task = gym_id("FetchReach").replace("Reach", "ReachDense") if dense else gym_id("FetchReach")
    kwargs: dict[str, Any] = {"render_mode": render_mode}
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    return GymnasiumAgentEnv(gymnasium.make(task, **kwargs))
