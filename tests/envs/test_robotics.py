"""gymnasium-robotics' FetchReach through `robotics/FetchReach` on this stack: the mujoco 4
compatibility step reads and writes the same joint slices, and SAC + HER learns from it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gymnasium_robotics")
pytest.importorskip("mujoco")

from testbed.envs import robotics_compat  # noqa: E402
from testbed.registry import make_agent, make_env  # noqa: E402
from testbed.train.loop import train  # noqa: E402


def test_joint_accessors_match_mujocos_own_addresses() -> None:
    import mujoco

    env = make_env("robotics/FetchReach")
    env.reset(seed=0)
    sim = env.env.unwrapped
    model, data = sim.model, sim.data
    for name in ("robot0:slide0", "robot0:shoulder_pan_joint"):
        joint = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        address = model.jnt_qposadr[joint]
        robotics_compat.set_joint_qpos(model, data, name, 0.25)
        assert data.qpos[address] == 0.25
        assert robotics_compat.get_joint_qpos(model, data, name).tolist() == [0.25]
        robotics_compat.set_joint_qvel(model, data, name, -0.5)
        assert robotics_compat.get_joint_qvel(model, data, name).tolist() == [-0.5]
    with pytest.raises(KeyError, match="no joint"):
        robotics_compat.get_joint_qpos(model, data, "nope")


def test_sac_her_stores_relabelled_fetch_steps_with_the_sparse_reward() -> None:
    env = make_env("robotics/FetchReach")
    sac = make_agent("sac", env.observation_space("agent_0"), env.action_space("agent_0"),
                     learning_starts=60, batch_size=16, hidden=[16], normalize_obs=True,
                     her={"strategy": "future", "k": 4, "terminate_on_success": False})  # fmt: skip
    train(env, {"agent_0": sac}, 100, 0)
    rows = sac.buffer.size
    assert rows == 2 * 50 * 5  # two 50-step episodes, each step stored 1 + k times
    next_obs, rewards = sac.buffer.next_obs[:rows], sac.buffer.rewards[:rows]
    reached = np.linalg.norm(next_obs[:, :3] - next_obs[:, -3:], axis=1) <= 0.05
    assert np.array_equal(rewards, np.where(reached, 0.0, -1.0)) and reached.any()
    assert not sac.buffer.dones[:rows].any() and sac.updates > 0
