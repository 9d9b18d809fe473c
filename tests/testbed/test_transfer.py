"""Transfer (`init_from:`): fitting layers are copied, heads reset on request, frozen layers do
not learn, envs with other observation sizes keep a fresh first layer; Taylor & Stone metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from gymnasium import spaces

import testbed
from testbed.errors import BadInput
from testbed.registry import make_agent
from testbed.train.transfer import InitFrom, apply_transfer, transfer_metrics

SMALL = {"hidden": [16], "rollout_steps": 32, "minibatch_size": 16, "epochs": 1}


def _ppo(obs: int, actions: int = 2, seed: int = 0):
    torch.manual_seed(seed)
    box = spaces.Box(-1, 1, (obs,), np.float32)
    return make_agent("ppo", box, spaces.Discrete(actions), **SMALL)


def test_fitting_layers_are_copied_and_heads_stay_fresh_on_request() -> None:
    source, fresh = _ppo(4, seed=1).state_dict(), _ppo(4, seed=2)
    before = {k: v.clone() for k, v in fresh.state_dict()["actor"].items()}
    report = apply_transfer(fresh, source, InitFrom(checkpoint="x", reset_head=["actor"]))
    actor = fresh.state_dict()["actor"]
    assert torch.equal(actor["net.0.weight"], source["actor"]["net.0.weight"])
    assert torch.equal(actor["net.2.weight"], before["net.2.weight"])  # the head: fresh
    assert torch.equal(fresh.state_dict()["critic"]["2.weight"], source["critic"]["2.weight"])
    assert report.reset == ["actor.net.2.weight", "actor.net.2.bias"]


def test_other_observation_sizes_keep_a_fresh_first_layer() -> None:
    source = _ppo(4, seed=1).state_dict()
    target = _ppo(6, seed=2)
    report = apply_transfer(target, source, InitFrom(checkpoint="x"))
    assert "actor.net.0.weight" in report.mismatched
    assert torch.equal(
        target.state_dict()["actor"]["net.2.weight"], source["actor"]["net.2.weight"]
    )
    with pytest.raises(ValueError, match="no layer of the checkpoint fits"):
        apply_transfer(
            _ppo(6), _ppo(4, actions=3).state_dict()["optimizer"], InitFrom(checkpoint="x")
        )


def _mappo(n_agents: int, seed: int, max_agents: int | None = None):
    torch.manual_seed(seed)
    padding = {} if max_agents is None else {"max_agents": max_agents}
    env = testbed.make_env("mpe/simple_spread_v3", N=n_agents, **padding)
    names = env.possible_agents
    return make_agent(
        "mappo",
        {a: env.observation_space(a) for a in names},
        {a: env.action_space(a) for a in names},
        hidden=[16, 16],
        **padding,
    )


def test_a_shared_mappo_transfers_from_three_agents_to_four() -> None:
    """Parameter sharing: the layers past the inputs fit whatever the number of agents."""
    source, target = _mappo(3, seed=1).state_dict(), _mappo(4, seed=2)
    report = apply_transfer(target, source, InitFrom(checkpoint="x", freeze=["actors.0.net.2"]))
    assert sorted(report.mismatched) == ["actors.0.net.0.weight", "critics.0.0.weight"]
    state = target.state_dict()
    for path in ("actors.0.net.2.weight", "actors.0.net.4.bias", "critics.0.2.weight"):
        part, index, rest = path.split(".", 2)
        assert torch.equal(state[part][int(index)][rest], source[part][int(index)][rest])
    assert report.frozen == ["actors.0.net.2.weight", "actors.0.net.2.bias"]


def test_with_max_agents_every_layer_transfers_and_one_network_acts_for_any_count() -> None:
    """Padded observations (the env's max_agents) and padded slots (MAPPO's): equal shapes."""
    source = _mappo(3, seed=1, max_agents=4)
    target = _mappo(4, seed=2, max_agents=4)
    report = apply_transfer(target, source.state_dict(), InitFrom(checkpoint="x"))
    assert report.mismatched == []
    state, saved = target.state_dict(), source.state_dict()
    for path in ("actors.0.net.0.weight", "critics.0.0.weight", "critics.0.4.bias"):
        part, index, rest = path.split(".", 2)
        assert torch.equal(state[part][int(index)][rest], saved[part][int(index)][rest])
    for n in (2, 3, 4):  # the 3-agent network acts in every env of up to 4 agents
        env = testbed.make_env("mpe/simple_spread_v3", N=n, max_agents=4)
        small = _mappo(n, seed=3, max_agents=4)
        small.load_state_dict(source.state_dict())
        obs, _ = env.reset(seed=0)
        actions = small.act(obs, {})
        assert sorted(actions) == env.possible_agents
        assert small.critic_inputs(obs)["agent_0"].shape == (4 * 31 + 4,)
    spaces_of = {a: small.observation_spaces[a] for a in small.agents}
    actions_of = {a: env.action_space(a) for a in small.agents}
    with pytest.raises(BadInput, match=r"max_agents \(3\) needs share_parameters"):
        make_agent("mappo", spaces_of, actions_of, max_agents=3)


def test_frozen_layers_do_not_learn() -> None:
    source = _ppo(4, seed=1).state_dict()
    agent = _ppo(4, seed=2)
    apply_transfer(agent, source, InitFrom(checkpoint="x", freeze=["actor.net.0", "critic"]))
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, (4,)).astype(np.float32)
    for _ in range(64):
        action = agent.explore(obs)
        nxt = rng.uniform(-1, 1, (4,)).astype(np.float32)
        agent.observe({"obs": obs, "action": action, "reward": float(rng.normal()), "cost": 0.0,
                       "next_obs": nxt, "terminated": False, "truncated": False,
                       "action_mask": None, "next_action_mask": None})  # fmt: skip
        agent.update()
        obs = nxt
    state = agent.state_dict()
    assert torch.equal(state["actor"]["net.0.weight"], source["actor"]["net.0.weight"])
    assert torch.equal(state["critic"]["0.weight"], source["critic"]["0.weight"])
    assert not torch.equal(state["actor"]["net.2.weight"], source["actor"]["net.2.weight"])
    with pytest.raises(ValueError, match="names no layer.*actor.net.0"):
        apply_transfer(_ppo(4), source, InitFrom(checkpoint="x", freeze=["policy"]))


def test_taylor_stone_metrics() -> None:
    scratch = [(0, 10.0), (100, 20.0), (200, 50.0), (300, 60.0)]
    transfer = [(0, 30.0), (100, 50.0), (200, 60.0), (300, 60.0)]
    m = transfer_metrics(scratch, transfer, threshold=50.0, last=2)
    assert m["jumpstart"] == 20.0
    assert (m["time_to_threshold_scratch"], m["time_to_threshold_transfer"]) == (200, 100)
    assert m["steps_saved"] == 100.0
    assert m["asymptotic_gain"] == pytest.approx(60.0 - 55.0)
    # areas: scratch 1500 + 3500 + 5500 = 10500; transfer 4000 + 5500 + 6000 = 15500
    assert m["area_ratio"] == pytest.approx(5000 / 10500)
    # negative returns (MPE): doing better still gives a positive ratio
    worse = [(s, r - 100.0) for s, r in scratch]
    better = [(s, r - 100.0) for s, r in transfer]
    assert transfer_metrics(worse, better, threshold=-50.0)["area_ratio"] > 0


def _stages(tmp_path: Path, init_from: object) -> Path:
    train = {"kind": "train", "env": "gym/CartPole-v1", "steps": 128, "eval_every": 64,
             "eval_episodes": 1, "agents": {"agent_0": {"id": "ppo", "params": SMALL}}}  # fmt: skip
    data = {
        "name": "transfer",
        "seed": 5,
        "stages": [
            {**train, "name": "source"},
            {**train, "name": "target", "init_from": init_from},
        ],
    }
    path = tmp_path / "transfer.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_train_stage_starts_from_an_earlier_stage_and_evaluates_at_step_0(tmp_path: Path) -> None:
    path = _stages(tmp_path, {"checkpoint": "@source/agent_0", "freeze": ["actor.net.0"]})
    result = testbed.run(testbed.load_scenario(str(path)), out=tmp_path / "run", show=False)
    target = result.stages[1]
    assert [r["step"] for r in target.curve] == [0, 64, 128]
    assert target.transfer["agent_0"]["frozen"] == ["actor.net.0.weight", "actor.net.0.bias"]
    source = torch.load(Path(result.stages[0].checkpoints["agent_0"]) / "weights.pt")
    final = torch.load(Path(target.checkpoints["agent_0"]) / "weights.pt")
    assert torch.equal(source["actor"]["net.0.weight"], final["actor"]["net.0.weight"])


def test_bad_transfer_input_is_one_message(tmp_path: Path) -> None:
    path = _stages(tmp_path, "@nowhere/agent_0")
    with pytest.raises(BadInput, match="names no earlier `kind: train` stage") as info:
        testbed.load_scenario(str(path))
    assert "transfer.yaml:" in str(info.value)
    path = _stages(tmp_path, {"checkpoint": "@source/agent_0", "reset_head": ["policy"]})
    with pytest.raises(BadInput, match="'policy' is not a network of PPO"):
        testbed.run(testbed.load_scenario(str(path)), out=tmp_path / "bad", show=False)


def test_a_group_checkpoint_acts_for_its_first_agents_in_order_only(tmp_path) -> None:
    """Agents are told apart by position, so {agent_1, agent_2} may not take a 3-agent group."""
    from testbed.registry.checkpoint import load_checkpoint, save_checkpoint

    env = testbed.make_env("mpe/simple_spread_v3", N=3, max_agents=3)
    spaces_of = {a: env.observation_space(a) for a in env.possible_agents}
    actions_of = {a: env.action_space(a) for a in env.possible_agents}
    params = {"max_agents": 3, "hidden": [8]}
    group = make_agent("mappo", spaces_of, actions_of, **params)
    save_checkpoint(tmp_path / "group", group, agent_id="mappo", params=params,
                    observation_space=spaces_of, action_space=actions_of)  # fmt: skip
    first_two = ["agent_0", "agent_1"]
    loaded = load_checkpoint(tmp_path / "group", {a: spaces_of[a] for a in first_two},
                             {a: actions_of[a] for a in first_two})  # fmt: skip
    assert loaded is not None
    later_two = ["agent_1", "agent_2"]
    with pytest.raises(BadInput, match="first of them in that order"):
        load_checkpoint(tmp_path / "group", {a: spaces_of[a] for a in later_two},
                        {a: actions_of[a] for a in later_two})  # fmt: skip
