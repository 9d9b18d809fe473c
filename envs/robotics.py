"""gymnasium-robotics goal-conditioned tasks as one-agent PettingZoo ParallelEnvs (for `her:`).

`robotics/FetchReach`: move the Fetch arm's gripper to a 3-D target (Plappert et al. 2018);
observation `{"observation": 10, "achieved_goal": 3, "desired_goal": 3}`, actions in
[-1, 1]^4, 50 steps, reward -1 per step away from the target (0 within 5 cm; `dense`: minus
the distance), `infos[agent]["is_success"]`. It is FetchReach-v2 on the legacy stack
(gymnasium-robotics 1.2.2) and FetchReach-v4 on the modern one (1.4.2); both need a
compatibility step on mujoco 4.x (envs/robotics_compat.py).

`robotics/PointMaze`: push a point mass (2-D force in [-1, 1]^2) through a maze to a goal
cell (gymnasium-robotics PointMaze, Fu et al. 2020's D4RL mazes); `maze:` UMaze (default),
Open, Medium or Large. Observation `{"observation": 4 (x, y, vx, vy), "achieved_goal": 2 (x, y),
"desired_goal": 2}`; goal and start cells (plus uniform noise of +-0.25) are drawn from the
env's own distribution with the reset seed. Reward -1 per step until the point is within
0.45 of the goal, 0 on that step (the same sparse reward as FetchReach and `her:`), and the
episode then ends (`continuing_task: true` keeps gymnasium-robotics' behaviour instead: no
termination, a new goal each time one is reached, reward 0/1); `dense`: exp(-distance).
`infos[agent]["is_success"]` is 1.0 within 0.45 of the goal. 300 steps (UMaze) unless
`max_episode_steps`.

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


MAZES = ("UMaze", "Open", "Medium", "Large")
SUCCESS_RADIUS = 0.45  # gymnasium-robotics' maze goal radius


class _MazeGoals(gymnasium.Wrapper):
    """Sparse maze reward as -1 / 0 (0 on reaching the goal) and `is_success` in the info."""

    def __init__(self, env: gymnasium.Env, shift_reward: bool):
        super().__init__(env)
        self.shift_reward = shift_reward

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        return observation, {**info, "is_success": float(info.get("success", False))}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        reward = float(reward) - 1.0 if self.shift_reward else float(reward)
        info = {**info, "is_success": float(info.get("success", False))}
        return observation, reward, terminated, truncated, info


def point_maze(
    maze: str = "UMaze",
    dense: bool = False,
    continuing_task: bool = False,
    max_episode_steps: int | None = None,
    render_mode: str | None = None,
) -> GymnasiumAgentEnv:
    """PointMaze (`maze`: UMaze, Open, Medium, Large); sparse -1/0 reward ending at the goal."""
    if maze not in MAZES:
        raise ValueError(f"maze must be one of {', '.join(MAZES)}, got {maze!r}")
    if max_episode_steps is not None and max_episode_steps < 1:
        raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
    _robotics()
    task = gym_id("PointMaze").replace("UMaze", maze + ("Dense" if dense else ""))
    kwargs: dict[str, Any] = {"render_mode": render_mode, "continuing_task": continuing_task}
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    shift = not dense and not continuing_task
    env = GymnasiumAgentEnv(_MazeGoals(gymnasium.make(task, **kwargs), shift))
    env.metadata["name"] = f"robotics/PointMaze_{maze}"
    return env
