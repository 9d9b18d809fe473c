"""testbed/safe_navigation_v0 and the scripted navigators: conformance, physics, costs, rewards."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from pettingzoo.test import parallel_api_test

from testbed.registry import make_agent, make_env
from testbed.rollout.episode import run_episode
from testbed.rollout.team import PolicyTeam

ENV_ID = "testbed/safe_navigation_v0"
FAR_HAZARDS = [(-0.6, -0.6), (-0.6, 0.6), (0.6, -0.6)]
REST = np.zeros(2, dtype=np.float32)


def env_with(positions, goals=None, velocities=None, hazards=FAR_HAZARDS, **params):
    """A reset env with the robots (and goals, velocities, hazards) placed as given."""
    env = make_env(ENV_ID, n_agents=len(positions), n_hazards=len(hazards), **params)
    env.reset(seed=0)
    goals = goals if goals is not None else [(0.9, 0.9 - 0.2 * i) for i in range(len(positions))]
    env.place(positions, goals, hazards, velocities)
    return env


def coast(env):
    """One step with no acceleration for every live robot."""
    rest = REST if env.continuous_actions else 0
    return env.step({a: rest for a in env.agents})


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"continuous_actions": True},
        {"discrete_directions": 5},
        {"n_agents": 1, "n_hazards": 0, "max_cycles": 50},
    ],
)
def test_parallel_api(params):
    parallel_api_test(make_env(ENV_ID, **params), num_cycles=150)


def test_seeding_reproduces_whole_episodes():
    runs = []
    for _ in range(2):
        env = make_env(ENV_ID, max_cycles=60, continuous_actions=True)
        rng = np.random.default_rng(5)
        trace = [env.reset(seed=11)]
        while env.agents:
            trace.append(env.step({a: rng.uniform(-1, 1, 2) for a in env.agents}))
        runs.append(trace)
    assert len(runs[0]) == 61 and data_equivalence(runs[0], runs[1])
    assert not data_equivalence(make_env(ENV_ID).reset(seed=1), make_env(ENV_ID).reset(seed=2))


def test_reset_keeps_starts_and_goals_clear_of_hazards():
    env = make_env(ENV_ID, n_agents=4, n_hazards=4)
    for seed in range(20):
        env.reset(seed=seed)
        for points in (env._pos, env._goal):
            gaps = np.linalg.norm(points[:, None] - env._hazards[None], axis=2)
            assert gaps.min() >= env.hazard_radius + env.robot_radius + 0.15 - 1e-9
        assert (np.linalg.norm(env._goal - env._pos, axis=1) >= env.half).all()


def test_observation_layout():
    env = env_with(
        [(0.0, 0.0), (0.5, 0.0)], goals=[(0.3, 0.4), (0.9, 0.9)], velocities=[(0.1, 0), (0, 0.2)]
    )
    obs = env.observe()["robot_0"]
    assert obs.shape == (9 + 7 * 4,) and obs.dtype == np.float32
    assert env.observation_space("robot_0").contains(obs)
    np.testing.assert_allclose(obs[:9], [0, 0, 0.1, 0, 0.3, 0.4, 0.05, 0.5, 1.0], atol=1e-6)
    rows = obs[9:].reshape(4, 7)
    np.testing.assert_allclose(rows[0], [-0.6, -0.6, 0, 0, 0.25, 1, 0], atol=1e-6)  # a hazard
    np.testing.assert_allclose(rows[3], [0.5, 0, 0, 0.2, 0.05, 0, 1], atol=1e-6)  # robot_1


def test_hazard_cost_inside_a_hazard_only():
    env = env_with(
        [(0.1, 0.0), (0.4, 0.0)], hazards=[(0.0, 0.0), (-0.6, 0.6), (0.6, -0.6)], hazard_weight=2.0
    )
    _, _, _, _, infos = coast(env)
    assert infos["robot_0"] == {
        "cost": 2.0,
        "costs": {"hazard": 1.0, "collision": 0.0, "speed": 0.0},
    }
    assert infos["robot_1"] == {
        "cost": 0.0,
        "costs": {"hazard": 0.0, "collision": 0.0, "speed": 0.0},
    }


def test_collision_cost_closer_than_two_radii():
    env = env_with([(0.3, 0.3), (0.38, 0.3), (0.3, 0.45)], collision_weight=3.0)
    _, _, _, _, infos = coast(env)
    assert infos["robot_0"]["costs"]["collision"] == 1.0 and infos["robot_0"]["cost"] == 3.0
    assert infos["robot_1"]["costs"]["collision"] == 1.0
    assert infos["robot_2"]["costs"] == {"hazard": 0.0, "collision": 0.0, "speed": 0.0}


def test_speed_cost_above_the_limit():
    env = env_with([(-0.2, 0.0), (0.2, 0.0)], velocities=[(0.9, 0.0), (0.0, 0.5)])
    _, _, _, _, infos = coast(env)  # speeds become 0.81 and 0.45 (damping 0.1)
    assert infos["robot_0"]["costs"]["speed"] == 1.0 and infos["robot_0"]["cost"] == 1.0
    assert infos["robot_1"]["costs"]["speed"] == 0.0
    np.testing.assert_allclose(env._vel, [(0.81, 0.0), (0.0, 0.45)])
    np.testing.assert_allclose(env._pos, [(-0.119, 0.0), (0.2, 0.045)])


def test_costs_add_up_with_their_weights():
    env = env_with(
        [(0.0, 0.0), (0.05, 0.0)],
        velocities=[(0.9, 0.0), (0.0, 0.0)],
        hazards=[(0.0, 0.0), (-0.6, 0.6), (0.6, -0.6)],
        hazard_weight=2.0,
        collision_weight=3.0,
        speed_weight=5.0,
    )
    _, _, _, _, infos = coast(env)
    assert infos["robot_0"]["cost"] == 10.0
    assert infos["robot_1"]["cost"] == 5.0  # in the hazard and touching robot_0, not fast


def test_progress_reward_goal_bonus_and_leaving():
    env = env_with(
        [(0.0, 0.0), (-0.5, -0.0)],
        goals=[(0.12, 0.0), (0.5, 0.0)],
        velocities=[(0.5, 0.0), (0.5, 0.0)],
        goal_bonus=1.0,
    )
    _, rewards, terms, truncs, _ = coast(env)  # both move 0.045 toward their goals
    assert rewards["robot_0"] == pytest.approx(0.045 + 1.0)  # and robot_0 arrives
    assert rewards["robot_1"] == pytest.approx(0.045)
    assert terms == {"robot_0": True, "robot_1": False} and not any(truncs.values())
    assert env.agents == ["robot_1"]
    obs, rewards, _, _, infos = coast(env)
    assert list(obs) == list(rewards) == list(infos) == ["robot_1"]
    assert not obs["robot_1"][9 + 7 * 3 :].any()  # robot_0 has left: a row of zeros
    env.place([(0.0, 0.0), (0.0, 0.0)], goals=[(0.9, 0.9), (-0.9, 0.9)])
    _, _, _, _, infos = coast(env)
    assert infos["robot_0"]["costs"]["collision"] == 1.0  # place() brings robots back


def test_actions_walls_and_truncation():
    env = env_with(
        [(0.0, 0.0), (0.94, 0.0)],
        velocities=[(0, 0), (1.0, 0.0)],
        continuous_actions=False,
        max_cycles=2,
    )
    _, _, _, truncs, _ = env.step({"robot_0": 3, "robot_1": 0})  # 3 = north, 0 = none
    np.testing.assert_allclose(env._pos[0], (0.0, 0.02))
    np.testing.assert_allclose(env._pos[1], (0.95, 0.0))  # stopped by the wall
    assert env._vel[1].tolist() == [0.0, 0.0] and not any(truncs.values())
    _, _, _, truncs, _ = env.step({"robot_0": 0, "robot_1": 0})
    assert all(truncs.values()) and env.agents == []
    env = env_with([(0.0, 0.0)], continuous_actions=True)
    env.step({"robot_0": np.array([5.0, -5.0])})  # commands are clipped to [-1, 1]
    np.testing.assert_allclose(env._vel[0], (0.2, -0.2))


def test_rendering():
    env = env_with([(0.0, 0.0), (0.05, 0.0)], render_mode="rgb_array")
    coast(env)  # the two robots collide: outlined in black
    frame = env.render()
    assert frame.shape == (400, 400, 3) and frame.dtype == np.uint8
    assert (frame[180:220, 180:230] == 0).all(axis=2).any()
    assert (frame[:, :, 0] > frame[:, :, 1] + 60).any()  # red hazards


def navigators(env, agent_id: str, **params) -> PolicyTeam:
    return PolicyTeam(
        {
            a: make_agent(agent_id, env.observation_space(a), env.action_space(a), **params)
            for a in env.possible_agents
        }
    )


@pytest.mark.parametrize("continuous", [True, False])
def test_safe_navigator_is_safe_and_beats_random(continuous):
    env = make_env(ENV_ID, continuous_actions=continuous)
    seeds = range(4)
    safe = [run_episode(env, navigators(env, "scripted/safe_navigator"), s) for s in seeds]
    unsafe = [run_episode(env, navigators(env, "scripted/unsafe_navigator"), s) for s in seeds]
    random = [run_episode(env, navigators(env, "random"), s) for s in seeds]
    assert sum(r.team_cost for r in safe) == 0.0
    assert sum(r.team_cost for r in unsafe) > 5.0  # straight through hazards
    assert sum(r.agents[a].costs["hazard"] for r in unsafe for a in r.agents) > 0
    mean = {
        name: np.mean([r.team_return for r in records]) / 3
        for name, records in [("safe", safe), ("unsafe", unsafe), ("random", random)]
    }
    assert mean["safe"] > 1.5 and mean["unsafe"] > 1.5 and mean["random"] < 1.0
    assert mean["safe"] > mean["random"] + 1.0


def test_wider_safety_margin_is_accepted_and_still_safe():
    env = make_env(ENV_ID)
    team = navigators(env, "scripted/safe_navigator", safety_margin=0.2, speed_fraction=0.5)
    record = run_episode(env, team, seed=2)
    assert record.team_cost == 0.0 and record.team_return > 0
