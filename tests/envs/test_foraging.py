"""testbed/foraging_v0 and scripted/forager: conformance, moves, loading, rendering, baselines."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from pettingzoo.test import parallel_api_test

from testbed.errors import BadInput
from testbed.registry import make_agent, make_env
from testbed.rollout.episode import run_episode
from testbed.rollout.team import PolicyTeam

ENV_ID = "testbed/foraging_v0"
NOOP, UP, DOWN, LEFT, RIGHT, LOAD = range(6)


def env_at(agents, items, **params):
    """A reset env with the agents and items on these (row, col) cells."""
    env = make_env(ENV_ID, n_agents=len(agents), **params)
    env.reset(seed=0)
    env.place(agents, items)
    return env


def step(env, *actions):
    return env.step(dict(zip(env.possible_agents, actions, strict=True)))


def positions(env) -> list[tuple[int, int]]:
    rows, cols = env._grid_coords(env._agent_pos)
    return list(zip(rows.tolist(), cols.tolist(), strict=True))


@pytest.mark.parametrize(
    "params",
    [{}, {"sight": 1}, {"n_agents": 2, "item_level": 1, "grid_size": 5, "n_items": 2}],
)
def test_parallel_api(params):
    parallel_api_test(make_env(ENV_ID, **params), num_cycles=100)


def test_seeding_reproduces_whole_episodes():
    runs = []
    for _ in range(2):
        env = make_env(ENV_ID)
        rng = np.random.default_rng(7)
        trace = [env.reset(seed=3)[0]]
        while env.agents:
            trace.append(step(env, *rng.integers(0, 6, size=3)))
        runs.append(trace)
    assert len(runs[0]) == 51  # the default horizon
    assert data_equivalence(runs[0], runs[1])
    first = make_env(ENV_ID).reset(seed=3)[0]
    other = make_env(ENV_ID).reset(seed=4)[0]
    assert not data_equivalence(first, other)


def test_bad_parameters_are_rejected():
    with pytest.raises(BadInput, match="item_level"):
        make_env(ENV_ID, item_level=5)
    with pytest.raises(BadInput, match="do not fit"):
        make_env(ENV_ID, grid_size=4, n_items=5)


def test_observation_layout():
    env = env_at([(0, 0), (2, 3), (7, 7)], [(4, 4)], sight=2)
    obs = env.observe()["agent_1"]
    assert obs.dtype == np.float32 and obs.shape == (2 + 3 * 25,)
    assert env.observation_space("agent_1").contains(obs)
    assert obs[:2] == pytest.approx([2 / 7, 3 / 7])
    others, items, walls = obs[2:].reshape(3, 5, 5)  # centred on (2, 3), offsets -2..2
    assert others.sum() == 0  # itself is not counted; (0, 0) and (7, 7) are out of sight
    assert np.argwhere(items).tolist() == [[4, 3]] and items[4, 3] == 2.0  # (4, 4): level 2
    assert walls.sum() == 0
    corner = env.observe()["agent_0"][2:].reshape(3, 5, 5)
    assert corner[2, :2].all() and corner[2, :, :2].all() and corner[2, 2:, 2:].sum() == 0
    full = make_env(ENV_ID).reset(seed=0)[0]["agent_0"]  # sight=None sees the whole grid
    assert full.shape == (2 + 3 * 15 * 15,)
    assert full[2 + 225 : 2 + 450].sum() == 4 * 2.0  # all 4 items, level 2 each


def test_moves_walls_items_and_conflicts():
    env = env_at([(0, 0), (2, 2), (2, 4)], [(5, 5)])
    step(env, UP, RIGHT, LEFT)  # a wall; two agents into (2, 3): neither moves
    assert positions(env) == [(0, 0), (2, 2), (2, 4)]
    step(env, RIGHT, DOWN, UP)
    assert positions(env) == [(0, 1), (3, 2), (1, 4)]
    env = env_at([(4, 5), (0, 0), (1, 0)], [(5, 5)])
    step(env, DOWN, DOWN, UP)  # into an item; a swap of two neighbours: nobody moves
    assert positions(env) == [(4, 5), (0, 0), (1, 0)]
    step(env, NOOP, RIGHT, DOWN)  # (1, 0) moves away while (0, 0) moves right: both move
    assert positions(env) == [(4, 5), (0, 1), (2, 0)]


def test_loading_needs_item_level_agents_together():
    env = env_at([(3, 2), (2, 3), (7, 7)], [(3, 3), (6, 0)])
    _, rewards, terms, _, infos = step(env, LOAD, NOOP, NOOP)
    assert rewards == {a: 0.0 for a in env.possible_agents}
    _, rewards, terms, _, infos = step(env, LOAD, LOAD, NOOP)
    assert rewards == {a: 1.0 for a in env.possible_agents}  # fully shared by default
    assert not any(terms.values()) and env._item_alive.sum() == 1
    assert all(info == {"cost": 0.0} for info in infos.values())
    _, rewards, _, _, _ = step(env, LOAD, LOAD, NOOP)  # the item is gone
    assert set(rewards.values()) == {0.0}
    step(env, RIGHT, NOOP, NOOP)  # its cell is free now
    assert positions(env)[0] == (3, 3)


def test_partly_shared_reward_and_termination():
    env = env_at([(3, 2), (2, 3), (7, 7)], [(3, 3)], shared_reward=0.25)
    _, rewards, terms, truncs, _ = step(env, LOAD, LOAD, LOAD)
    assert rewards == {"agent_0": 1.0, "agent_1": 1.0, "agent_2": 0.25}
    assert all(terms.values()) and not any(truncs.values()) and env.agents == []
    env = env_at([(0, 1), (1, 0), (7, 7)], [(0, 0)], item_level=3)  # corner: only 2 neighbours
    _, rewards, _, _, _ = step(env, LOAD, LOAD, LOAD)
    assert set(rewards.values()) == {0.0}


def test_rendering():
    env = make_env(ENV_ID, render_mode="rgb_array", grid_size=6, n_items=3)
    env.reset(seed=1)
    frame = env.render()
    assert frame.shape == (6 * 32, 6 * 32, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 5  # background, lines, items, agents
    env = make_env(ENV_ID, render_mode="ansi")
    env.reset(seed=1)
    env.place([(0, 0), (1, 1), (2, 2)], [(5, 5), (7, 0)])
    text = env.render()
    lines = text.splitlines()
    assert lines[0] == "t=0 items left=2" and len(lines) == 9
    assert lines[1] == "A......." and lines[3] == "..C....." and lines[8] == "2......."
    with pytest.warns(UserWarning, match="render_mode"):
        assert make_env(ENV_ID).render() is None


def test_forager_collects_far_more_than_random():
    def mean_return(agent_id: str) -> float:
        env = make_env(ENV_ID)
        team = PolicyTeam(
            {
                a: make_agent(agent_id, env.observation_space(a), env.action_space(a))
                for a in env.possible_agents
            }
        )
        records = [run_episode(env, team, seed) for seed in range(6)]
        return float(np.mean([r.agents["agent_0"].ret for r in records]))

    forager, random = mean_return("scripted/forager"), mean_return("random")
    assert forager >= 3.0  # of 4 items
    assert random <= 1.0
    limited = make_env(ENV_ID, sight=2)
    team = PolicyTeam(
        {
            a: make_agent("scripted/forager", limited.observation_space(a), limited.action_space(a))
            for a in limited.possible_agents
        }
    )
    assert np.mean([run_episode(limited, team, s).team_return for s in range(4)]) > 3.0


def test_forager_rejects_other_envs():
    env = make_env("testbed/safe_navigation_v0", continuous_actions=False)
    with pytest.raises(BadInput, match="foraging"):
        make_agent(
            "scripted/forager", env.observation_space("robot_0"), env.action_space("robot_0")
        )
