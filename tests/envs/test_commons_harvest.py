"""testbed/commons_harvest_v0 and its scripted harvesters: conformance, dynamics, the dilemma."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from testbed.errors import BadInput
from testbed.registry import make_agent, make_env
from testbed.rollout.episode import run_episode
from testbed.rollout.team import PolicyTeam

ENV_ID = "testbed/commons_harvest_v0"
SUSTAINABLE, GREEDY, TIT_FOR_TAT = (
    "scripted/commons_sustainable",
    "scripted/commons_greedy",
    "scripted/commons_tit_for_tat",
)


def play(lineup: list[str], seed: int = 0, **env_params) -> tuple[np.ndarray, int, float]:
    """Returns per agent, episode length and steps with the depletion cost, via the rollout."""
    env = make_env(ENV_ID, n_agents=len(lineup), **env_params)
    team = PolicyTeam(
        {
            name: make_agent(agent_id, env.observation_space(name), env.action_space(name))
            for name, agent_id in zip(env.possible_agents, lineup, strict=True)
        }
    )
    record = run_episode(env, team, seed)
    returns = np.array([record.agents[a].ret for a in env.possible_agents])
    return returns, record.length, record.agents["agent_0"].cost


@pytest.mark.parametrize("params", [{}, {"n_agents": 2, "horizon": 30, "growth_noise": 0.3}])
def test_parallel_api(params):
    parallel_api_test(make_env(ENV_ID, **params), num_cycles=200)


def test_noise_follows_the_seed():
    def stocks(seed: int) -> list[float]:
        env = make_env(ENV_ID, growth_noise=0.2)
        env.reset(seed=seed)
        out = []
        for _ in range(10):
            env.step({a: 1 for a in env.agents})
            out.append(env.stock)
        return out

    assert stocks(3) == stocks(3)
    assert stocks(3) != stocks(4)


def test_one_step_by_hand():
    env = make_env(ENV_ID)
    obs, infos = env.reset(seed=0)
    assert obs["agent_0"] == pytest.approx([0.6, 0.0, 0.0, 1.0])
    assert infos["agent_0"] == {"cost": 0.0, "costs": {"depletion": 0.0}}
    obs, rewards, terms, truncs, infos = env.step(
        {"agent_0": 3, **{f"agent_{i}": 1 for i in range(1, 5)}}
    )
    # Catches: 0.1 * 60 = 6 and 0.1/3 * 60 = 2; 46 left; regrowth 0.4 * 46 * 0.54 = 9.936.
    assert [rewards[f"agent_{i}"] for i in range(5)] == pytest.approx([6, 2, 2, 2, 2])
    assert env.stock == pytest.approx(55.936)
    assert obs["agent_0"] == pytest.approx([0.55936, 0.6, 0.2, 0.99], abs=1e-6)
    assert obs["agent_1"] == pytest.approx([0.55936, 0.2, 0.3, 0.99], abs=1e-6)
    assert all(env.observation_space(a).contains(o) for a, o in obs.items())
    assert not any(terms.values()) and not any(truncs.values())
    assert infos["agent_3"] == {"cost": 0.0, "costs": {"depletion": 0.0}, "harvest_level": 1}


def test_rationing_and_collapse():
    env = make_env(ENV_ID, n_agents=3, catch_rate=0.5)
    env.reset(seed=0)
    _, rewards, terms, truncs, infos = env.step({"agent_0": 3, "agent_1": 3, "agent_2": 3})
    assert list(rewards.values()) == pytest.approx([20, 20, 20])  # 1.5x the stock, shared
    assert all(terms.values()) and not any(truncs.values()) and env.agents == []
    assert env.stock == 0.0 and infos["agent_0"]["cost"] == 1.0
    with pytest.raises(RuntimeError):
        env.step({"agent_0": 0, "agent_1": 0, "agent_2": 0})


def test_depletion_cost_marks_a_low_stock():
    env = make_env(ENV_ID, n_agents=1, catch_rate=0.6, depletion_threshold=0.5)
    env.reset(seed=0)
    _, _, _, _, infos = env.step({"agent_0": 1})  # takes 0.2 * 60 = 12, leaves 48 < 50
    assert infos["agent_0"]["cost"] == 1.0 == infos["agent_0"]["costs"]["depletion"]
    env.reset(seed=0)
    _, _, _, _, infos = env.step({"agent_0": 0})
    assert infos["agent_0"]["cost"] == 0.0


def test_truncates_at_the_horizon():
    returns, length, depleted = play([SUSTAINABLE] * 5, horizon=10)
    assert length == 10 and returns == pytest.approx([20] * 5) and depleted == 0


def test_all_sustainable_is_the_best_sustainable_group():
    returns, length, depleted = play([SUSTAINABLE] * 5)
    assert length == 100 and depleted == 0
    assert returns == pytest.approx([200.0] * 5)  # 1/5 of the MSY (10) on each of 100 steps


def test_all_greedy_collapses_the_stock():
    returns, length, depleted = play([GREEDY] * 5)
    assert length == 6 and depleted == 5
    assert returns == pytest.approx([16.07] * 5, abs=0.01)


def test_the_dilemma():
    together, _, _ = play([SUSTAINABLE] * 5)
    one_greedy, length, depleted = play([GREEDY] + [SUSTAINABLE] * 4)
    assert length == 100 and depleted == 69
    assert one_greedy[0] == pytest.approx(339.28, abs=0.01)
    assert one_greedy[0] > together[0]  # defecting pays the defector ...
    assert one_greedy.sum() == pytest.approx(791.64, abs=0.01)
    assert one_greedy.sum() < together.sum()  # ... while the group loses
    assert (one_greedy[1:] < together[1:]).all()
    all_greedy, _, _ = play([GREEDY] * 5)
    lone_cooperator, _, _ = play([SUSTAINABLE] + [GREEDY] * 4)
    assert lone_cooperator[0] < all_greedy[0]  # and greed is the best reply to greed
    assert all_greedy.sum() < 0.1 * together.sum()


def test_tit_for_tat_cooperates_and_retaliates():
    returns, length, _ = play([TIT_FOR_TAT] * 4 + [SUSTAINABLE])
    assert length == 100 and returns == pytest.approx([200.0] * 5)
    returns, length, _ = play([GREEDY] + [TIT_FOR_TAT] * 4)
    assert length == 7  # retaliation collapses the stock ...
    assert returns[0] < 25  # ... so exploiting tit-for-tat pays far less than exploiting
    #                          sustainable agents (339)


def test_random_play():
    returns, length, depleted = play(["random"] * 5, seed=1)
    assert 0 < returns.sum() < 1000 and depleted > 0


def test_render():
    env = make_env(ENV_ID, render_mode="ansi")
    env.reset(seed=0)
    env.step({a: 1 for a in env.agents})
    text = env.render()
    assert text.startswith("t=  1/100 stock   60.00/100") and "2.0 2.0 2.0 2.0 2.0" in text
    env = make_env(ENV_ID, n_agents=8, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (120, 296, 3)


@pytest.mark.parametrize(
    "params",
    [
        {"n_agents": 0},
        {"harvest_levels": 1},
        {"catch_rate": 1.5},
        {"initial_stock": 200.0},
        {"collapse_stock": 1.0},
    ],
)
def test_bad_params(params):
    with pytest.raises(BadInput):
        make_env(ENV_ID, **params)


def test_agents_check_their_env():
    board = make_env("testbed/breakthrough_v0")
    for agent_id in (SUSTAINABLE, GREEDY, TIT_FOR_TAT):
        with pytest.raises(BadInput):
            make_agent(
                agent_id, board.observation_space("player_0"), board.action_space("player_0")
            )
    env = make_env(ENV_ID)
    with pytest.raises(BadInput):
        make_agent(
            SUSTAINABLE,
            env.observation_space("agent_0"),
            env.action_space("agent_0"),
            share_level=4,
        )
