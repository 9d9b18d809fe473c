"""PointMaze as a one-agent goal env, and the HIRO-style goal hierarchy: subgoal transition,
off-policy correction picking the subgoal the low level would have followed, hindsight
segments, a short run in which both levels learn, a checkpoint round trip, bad params."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("gymnasium_robotics")
pytest.importorskip("mujoco")

from testbed.agents.common.her import HERConfig  # noqa: E402
from testbed.agents.hierarchical.subgoals import (  # noqa: E402
    hindsight_segments,
    low_reward,
    next_subgoal,
    pick_subgoals,
    subgoal_candidates,
)
from testbed.cli import main  # noqa: E402
from testbed.errors import BadInput  # noqa: E402
from testbed.registry import make_agent, make_env  # noqa: E402
from testbed.train.loop import train  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny nets on a shared 2-core machine: one torch thread is ~10x faster than two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SMALL = {
    "hidden": [32, 32],
    "batch_size": 32,
    "learning_starts": 100,
    "buffer_size": 2000,
    "high_train_freq": 5,
}


def test_point_maze_is_a_seeded_goal_env_with_sparse_reward() -> None:
    env = make_env("robotics/PointMaze", max_episode_steps=20)
    space = env.observation_space("agent_0")
    assert {k: space[k].shape for k in space.spaces} == {
        "observation": (4,),
        "achieved_goal": (2,),
        "desired_goal": (2,),
    }
    first, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    other, _ = env.reset(seed=4)
    goal = first["agent_0"]["desired_goal"]
    assert np.array_equal(goal, again["agent_0"]["desired_goal"])
    assert np.array_equal(first["agent_0"]["achieved_goal"], again["agent_0"]["achieved_goal"])
    assert not np.array_equal(goal, other["agent_0"]["desired_goal"])
    env.reset(seed=3)
    steps, info, reward = 0, {}, None
    while env.agents:
        _, reward, _, truncated, infos = env.step({"agent_0": np.zeros(2, np.float32)})
        info, steps = infos["agent_0"], steps + 1
    assert steps == 20 and truncated["agent_0"] and reward["agent_0"] == -1.0
    assert info["is_success"] == 0.0 and info["cost"] == 0.0


def test_point_maze_ends_with_reward_zero_on_reaching_the_goal() -> None:
    env = make_env("robotics/PointMaze")
    obs, _ = env.reset(seed=0)
    inner = env.env.unwrapped
    inner.point_env.data.qpos[:2] = obs["agent_0"]["desired_goal"]  # put the point on the goal
    _, reward, terminated, _, infos = env.step({"agent_0": np.zeros(2, np.float32)})
    assert reward["agent_0"] == 0.0 and terminated["agent_0"] and infos["agent_0"]["is_success"]
    with pytest.raises(BadInput, match="maze"):
        make_env("robotics/PointMaze", maze="Spiral")


def test_subgoal_transition_keeps_the_absolute_target() -> None:
    achieved, subgoal, moved = np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([1.2, 1.5])
    carried = next_subgoal(achieved, subgoal, moved)
    assert np.allclose(moved + carried, achieved + subgoal)
    assert low_reward(achieved, subgoal, moved, None) == pytest.approx(-np.linalg.norm(carried))
    assert low_reward(achieved, subgoal, achieved + subgoal, 0.1) == 0.0
    assert low_reward(achieved, subgoal, achieved, 0.1) == -1.0


def test_correction_picks_the_subgoal_the_low_level_followed() -> None:
    """The low level moves toward its target: mu(o, g) = tanh(g). Actions recorded under a
    subgoal g* are best explained by g*, not by the stored one nor by decoys."""
    torch.manual_seed(0)

    def actor(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x[..., -2:])

    k, true = 5, torch.tensor([[0.8, -0.3], [-0.5, 0.6]])
    achieved = torch.zeros(2, k + 1, 2)
    for j in range(k):  # the point drifts; the carried subgoal is g* + ag_0 - ag_j
        achieved[:, j + 1] = achieved[:, j] + torch.tensor([0.05, 0.02]) * (j + 1)
    goals = true[:, None, :] + achieved[:, :1] - achieved[:, :k]
    actions = torch.tanh(goals)
    stored = torch.tensor([[-0.9, 0.9], [0.9, -0.9]])
    candidates = torch.stack([stored, torch.zeros(2, 2), true + 0.3, true, true - 0.2], dim=1)
    chosen, best = pick_subgoals(
        actor, candidates, torch.randn(2, k, 4), achieved, actions, torch.tensor([k, k])
    )
    assert best.tolist() == [3, 3] and torch.allclose(chosen, true)
    # only the first `length` steps count: a short segment ignores what comes after it
    actions[1, 2:] = -actions[1, 2:]
    _, best = pick_subgoals(
        actor, candidates, torch.randn(2, k, 4), achieved, actions, torch.tensor([k, 2])
    )
    assert best.tolist() == [3, 3]
    many = subgoal_candidates(stored, true, 1.0, 8, 0.5)
    assert many.shape == (2, 10, 2) and torch.equal(many[:, 0], stored)
    assert torch.equal(many[:, 1], true) and float(many.abs().max()) <= 1.0


def test_hindsight_segments_reward_steps_before_the_new_goal() -> None:
    torch.manual_seed(0)
    path = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    segment = {
        "obs": np.zeros(6, np.float32),
        "next_obs": np.zeros(6, np.float32),
        "achieved": path,
        "done": False,
        "reward": -0.3,
    }
    config = HERConfig(strategy="final", k=1, distance_threshold=0.5)
    second = {**segment, "achieved": path + 3.0}
    first, last = hindsight_segments([segment, second], config, slice(4, 6), 0.1)
    assert np.array_equal(first["obs"][4:], [6.0, 3.0]) and first["reward"] == pytest.approx(-0.3)
    assert not first["done"]
    assert last["done"] and last["reward"] == pytest.approx(-0.2)  # reached on its last step
    config = HERConfig(strategy="future", k=2, distance_threshold=0.5)
    own = hindsight_segments([segment], config, slice(4, 6), 0.1)
    assert all(s["done"] and s["reward"] == pytest.approx(-0.2) for s in own)


def test_short_run_moves_both_levels_and_round_trips(tmp_path) -> None:
    torch.manual_seed(0)
    env = make_env("robotics/PointMaze", max_episode_steps=60)
    space, actions = env.observation_space("agent_0"), env.action_space("agent_0")
    agent = make_agent(
        "goal_hierarchy", space, actions, **SMALL, high_her={"k": 2, "distance_threshold": 0.45}
    )
    low = [p.detach().clone() for p in agent.low.actor.parameters()]
    high = [p.detach().clone() for p in agent.high.actor.parameters()]
    train(env, {"agent_0": agent}, 240, 0)
    assert agent.low.updates > 100 and agent.high_updates > 20
    assert any(
        not torch.equal(a, b) for a, b in zip(low, agent.low.actor.parameters(), strict=True)
    )
    assert any(
        not torch.equal(a, b) for a, b in zip(high, agent.high.actor.parameters(), strict=True)
    )
    assert len(agent.segments) == 4 * 6 * 3  # 4 episodes of 6 segments, each + 2 relabelled
    assert 0.0 <= agent.corrected_share <= 1.0
    obs, _ = env.reset(seed=9)
    agent.reset(9)
    first = agent.act(obs["agent_0"])
    target = agent.active_subgoal.copy()
    assert agent.subgoal_steps == 1 and np.all(
        np.abs(target - obs["agent_0"]["achieved_goal"]) <= 1.0
    )
    for _ in range(9):
        obs, *_ = env.step({"agent_0": agent.act(obs["agent_0"])})
    assert agent.subgoal_steps == 10 and np.array_equal(agent.active_subgoal, target)
    agent.act(obs["agent_0"])
    assert agent.subgoal_steps == 1  # a new subgoal every k = 10 steps

    restored = make_agent("goal_hierarchy", space, actions, **SMALL)
    restored.load_state_dict(agent.state_dict())
    obs, _ = env.reset(seed=9)
    restored.reset(9)
    assert np.array_equal(restored.act(obs["agent_0"]), first)
    assert restored.steps == agent.steps == 240 and restored.high_updates == agent.high_updates


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"k": 0}, "k must be > 0"),
        ({"low_reward": "shaped"}, "low_reward"),
        ({"gamma": 1.5}, "gamma"),
        ({"high_her": {"strategy": "later"}}, "strategy"),
        ({"subgoal_rang": 1.0}, "subgoal_range"),
    ],
)
def test_bad_params_are_bad_input(params: dict, message: str) -> None:
    env = make_env("robotics/PointMaze")
    with pytest.raises(BadInput, match=message):
        make_agent(
            "goal_hierarchy",
            env.observation_space("agent_0"),
            env.action_space("agent_0"),
            **params,
        )


def test_bad_param_in_a_scenario_exits_2(tmp_path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "kind: train\nenv: robotics/PointMaze\nsteps: 100\nagents:\n"
        "  agent_0:\n    id: goal_hierarchy\n    params:\n      k: -3\n"
    )
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "k must be > 0" in err and "bad.yaml" in err and "Traceback" not in err
