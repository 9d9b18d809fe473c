"""The four-rooms env, tabular option-critic and Dyna-Q: layout and goal moves, options and
terminations visible, a short run that learns to reach the goal, the model checkpointed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from testbed.agents.hierarchical.option_critic import OptionCritic, OptionCriticConfig
from testbed.agents.model_based.dyna_q import DynaQ, DynaQConfig
from testbed.envs.four_rooms import DEFAULT_GOAL, FREE, FourRoomsEnv, cell_of, position_of
from testbed.registry import make_agent
from testbed.train.loop import train

UP, DOWN, LEFT, RIGHT = range(4)


def test_layout_is_sutton_precup_singh() -> None:
    assert len(FREE) == 104
    assert position_of(DEFAULT_GOAL) == (7, 9)  # the east room's doorway row
    doorways = [(3, 6), (10, 6), (6, 2), (7, 9)]
    assert all(cell_of(*d) >= 0 for d in doorways)


def test_walls_block_and_goal_moves_on_request() -> None:
    env = FourRoomsEnv(slip=0.0)
    env.reset(seed=0)
    env._cell = cell_of(1, 1)
    obs, *_ = env.step({"agent_0": UP})  # wall above
    assert obs["agent_0"] == cell_of(1, 1)
    obs, *_ = env.step({"agent_0": RIGHT})
    assert obs["agent_0"] == cell_of(1, 2)
    env.move_goal(cell_of(1, 3))
    env.reset(seed=1)
    env._cell = cell_of(1, 2)
    _, reward, terminated, *_ = env.step({"agent_0": RIGHT})
    assert reward["agent_0"] == 1.0 and terminated["agent_0"]
    env.reset(seed=2, options={"goal": 5})
    assert env.goal == 5
    with pytest.raises(ValueError, match="free cell"):
        env.move_goal(104)


def greedy_steps(env: FourRoomsEnv, agent, episodes: int = 20) -> float:
    """Mean steps of the evaluation policy from fixed starts (capped by max_steps)."""
    total = 0
    for k in range(episodes):
        obs, _ = env.reset(seed=500 + k)
        agent.reset(500 + k)
        while env.agents:
            obs, *_ = env.step({"agent_0": agent.act(obs["agent_0"])})
            total += 1
    return total / episodes


@pytest.mark.parametrize("algo", ["option_critic", "dyna_q"])
def test_learns_to_reach_the_goal(algo: str) -> None:
    torch.manual_seed(0)
    env = FourRoomsEnv(slip=0.0, max_steps=200)
    params = {"epsilon_start": 0.1, "epsilon_end": 0.1} if algo == "dyna_q" else {}
    agent = make_agent(algo, env.observation_space("agent_0"), env.action_space("agent_0"),
                       **params)  # fmt: skip
    before = greedy_steps(env, agent)
    train(env, {"agent_0": agent}, 15_000 if algo == "option_critic" else 5000, seed=0)
    after = greedy_steps(env, agent)
    assert before > 100 and after < 25  # shortest paths here are at most ~20 steps


def test_options_and_terminations_are_visible() -> None:
    torch.manual_seed(0)
    env = FourRoomsEnv(max_steps=100)
    oc = OptionCritic(env.observation_space("agent_0"), env.action_space("agent_0"),
                      OptionCriticConfig(n_options=3))  # fmt: skip
    beta = oc.termination_probabilities()
    assert beta.shape == (104, 3) and np.allclose(beta, 0.5)
    train(env, {"agent_0": oc}, 2000, seed=0)
    assert not np.allclose(oc.termination_probabilities(), 0.5)  # terminations learned
    assert oc.greedy_options().shape == (104,)
    obs, _ = env.reset(seed=0)
    oc.reset(0)
    oc.act(obs["agent_0"])
    assert oc.eval_option in range(3)


def test_dyna_q_plans_from_its_model_and_checkpoints_it() -> None:
    torch.manual_seed(0)
    env = FourRoomsEnv(slip=0.0)
    space, actions = env.observation_space("agent_0"), env.action_space("agent_0")
    plain = DynaQ(space, actions, DynaQConfig(planning_steps=0))
    dyna = DynaQ(space, actions, DynaQConfig(planning_steps=20))
    goal_step = {"obs": cell_of(6, 9), "action": DOWN, "reward": 1.0,
                 "next_obs": DEFAULT_GOAL, "terminated": True, "truncated": False}  # fmt: skip
    step_before = {"obs": cell_of(5, 9), "action": DOWN, "reward": 0.0,
                   "next_obs": cell_of(6, 9), "terminated": False, "truncated": False}  # fmt: skip
    for agent in (plain, dyna):
        for step in (step_before, goal_step):
            agent.observe(step)
            agent.update()
    assert plain.q[cell_of(5, 9), DOWN] == 0.0  # backed up before the goal was seen
    assert dyna.q[cell_of(5, 9), DOWN] > 0.0  # planning replayed it after the goal step
    assert dyna.model_error([goal_step, step_before]) == {
        "known": 1.0, "next_state_error": 0.0, "reward_error": 0.0}  # fmt: skip
    copy = DynaQ(space, actions, DynaQConfig(planning_steps=20))
    copy.load_state_dict(dyna.state_dict())
    assert bool(copy.model_seen[cell_of(6, 9), DOWN]) and copy.planned == dyna.planned


@pytest.mark.parametrize("learner", ["option_critic", "dyna_q"])
def test_independent_options_and_models_in_a_two_player_game(learner: str) -> None:
    """Multi-agent: `iql` gives each rock-paper-scissors player its own option-critic (or
    Dyna-Q); both train, and their tables round-trip a checkpoint."""
    from testbed.joint import members
    from testbed.registry import make_env

    torch.manual_seed(0)
    env = make_env("classic/rps_v2")
    names = list(env.possible_agents)
    group = make_agent("iql", {a: env.observation_space(a) for a in names},
                       {a: env.action_space(a) for a in names}, learner=learner)  # fmt: skip
    state = train(env, dict(members(group)), 300, seed=0)
    assert state.step == 300
    saved = group.state_dict()["learners"]
    assert set(saved) == set(names) and all(int(t["steps"]) == 300 for t in saved.values())
    again = make_agent("iql", {a: env.observation_space(a) for a in names},
                       {a: env.action_space(a) for a in names}, learner=learner)  # fmt: skip
    again.load_state_dict(group.state_dict())
    for name in names:
        theirs, ours = again.learners[name].state_dict(), group.learners[name].state_dict()
        assert all(torch.equal(theirs[k], ours[k]) for k in ours if torch.is_tensor(ours[k]))


def test_transfer_goals_are_bacon_et_al_s_lower_right_room() -> None:
    from testbed.envs.four_rooms import TRANSFER_GOALS

    # the cells of the authors' transfer.py (their state numbering is ours: row-major)
    assert sorted(TRANSFER_GOALS) == [68, 69, 70, 71, 72, 78, 79, 80, 81, 82, 88, 89, 90, 91,
                                      92, 93, 99, 100, 101, 102, 103]  # fmt: skip
    rows_cols = [position_of(c) for c in TRANSFER_GOALS]
    assert all(8 <= r <= 11 and c >= 6 for r, c in rows_cols)  # south-east, below the goal
    assert (10, 6) in rows_cols and DEFAULT_GOAL not in TRANSFER_GOALS


def test_boltzmann_policy_over_options_follows_the_option_values() -> None:
    torch.manual_seed(0)
    env = FourRoomsEnv()
    space, actions = env.observation_space("agent_0"), env.action_space("agent_0")
    soft = OptionCritic(space, actions, OptionCriticConfig(n_options=2, option_temperature=0.01))
    greedy = OptionCritic(space, actions, OptionCriticConfig(n_options=2))
    for agent in (soft, greedy):
        agent.q_omega[7] = [0.0, 0.01]
    picks_soft = np.mean([soft._pick_option(7) for _ in range(3000)])
    picks_greedy = np.mean([greedy._pick_option(7) for _ in range(3000)])
    assert abs(picks_soft - np.e / (1 + np.e)) < 0.03  # softmax of (0, 1): 0.731
    assert picks_greedy > 0.98  # epsilon 0.01: the better option but for 0.5 % of picks
    with pytest.raises(ValueError, match="option_temperature"):
        OptionCritic(space, actions, OptionCriticConfig(option_temperature=-1.0))
