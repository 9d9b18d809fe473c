from __future__ import annotations

import numpy as np
import pytest
from fake_envs import ComeAndGo

from testbed import make_agent, make_env
from testbed.rollout.episode import run_episode
from testbed.rollout.team import PolicyTeam


class Always:
    """Takes a fixed action, or the first legal one under a mask; remembers masks seen."""

    def __init__(self, action):
        self.action, self.masks = action, []

    def reset(self, seed=None):
        pass

    def act(self, observation, action_mask=None):
        self.masks.append(action_mask)
        if action_mask is not None:
            return int(np.flatnonzero(action_mask)[0])
        return self.action


def test_parallel_agents_leave_and_join_with_costs_and_masks():
    team = PolicyTeam({"a": Always(1), "b": Always(2), "c": Always(0)})
    record = run_episode(ComeAndGo(), team, seed=0)
    assert record.length == 4
    a, b, c = (record.agents[k] for k in "abc")
    assert (a.ret, a.steps, a.cost) == (4.0, 4, 2.0)
    assert a.costs == {"ones": 2.0} and a.max_step_cost == 0.5
    assert (b.ret, b.steps, b.cost) == (4.0, 2, 0.0)
    # c joined at step 2 and its mask forced action 2 on both of its steps
    assert (c.ret, c.steps) == (4.0, 2)
    assert all(m is not None and m.tolist() == [0, 0, 1] for m in team.policies["c"].masks)
    assert record.team_return == 12.0 and record.team_cost == 2.0


def test_harness_step_cap_marks_truncation():
    team = PolicyTeam({"a": Always(0), "b": Always(0), "c": Always(0)})
    record = run_episode(ComeAndGo(), team, seed=0, max_steps=3)
    assert record.length == 3 and record.truncated_by_harness


def _random_team(env):
    return PolicyTeam(
        {
            a: make_agent("random", env.observation_space(a), env.action_space(a))
            for a in env.possible_agents
        }
    )


def test_aec_returns_match_game_outcome_and_masks_are_honoured():
    env = make_env("classic/tictactoe_v3")
    team = _random_team(env)
    for seed in range(20):
        record = run_episode(env, team, seed=seed)
        returns = sorted(r.ret for r in record.agents.values())
        assert returns in ([-1.0, 1.0], [0.0, 0.0])  # illegal moves would end the game at -1/0
        assert 5 <= record.length <= 9


@pytest.mark.parametrize("env_id", ["mpe/simple_spread_v3", "classic/connect_four_v3"])
def test_same_seed_same_record(env_id):
    env = make_env(env_id)
    team = _random_team(env)
    first = [run_episode(env, team, seed=s).to_dict() for s in (1, 2, 3)]
    again = [run_episode(env, team, seed=s).to_dict() for s in (3, 1, 2)]
    assert first == [again[1], again[2], again[0]]  # order does not matter
    assert first[0] != first[1]
