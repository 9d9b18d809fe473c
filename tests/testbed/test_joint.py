"""Joint (multi-agent) learners in the harness: one object per group, driven once per step,
checkpointed per group, usable by later stages and tournaments as Members."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium  # noqa: F401  (before pettingzoo)
import pytest
import torch

from testbed import load_scenario
from testbed.errors import BadInput
from testbed.joint import Member, group_folder, groups, members
from testbed.registry import agent_class, make_env
from testbed.runner import run
from testbed.train.loop import evaluate, train

SUPPORT = Path(__file__).resolve().parents[1] / "support"
JOINT = SUPPORT / "tiny_joint.py"
TINY = SUPPORT / "tiny_learner.py"


def _tiny_joint(env, agents):
    return agent_class(f"{JOINT}:TinyJoint")(
        {a: env.observation_space(a) for a in agents}, {a: env.action_space(a) for a in agents}
    )


def test_training_drives_a_group_once_per_step_with_its_live_agents() -> None:
    env = make_env("mpe/simple_spread_v3", N=3, max_cycles=5)
    group = _tiny_joint(env, env.possible_agents)
    torch.manual_seed(0)
    state = train(env, members(group), total_steps=12, seed=3)
    everyone = list(env.possible_agents)
    assert state.step == 12 and state.episodes == 2
    assert group.calls["explore"] == [everyone] * 12  # one call per step, never per agent
    assert group.calls["observe"] == [everyone] * 12
    assert group.resets == 3  # two finished episodes + the one cut by the budget
    assert set(state.metrics) == {"agent_0+agent_1+agent_2"}
    group.calls["act"].clear()
    evaluate(env, members(group), seed=1, episodes=1)
    assert group.calls["act"] == [[a] for a in everyone] * 5  # decentralised: one agent a call


def test_a_group_and_a_single_learner_share_an_env() -> None:
    env = make_env("mpe/simple_spread_v3", N=3, max_cycles=5)
    group = _tiny_joint(env, ["agent_0", "agent_1"])
    solo = _tiny_joint(env, ["agent_2"])
    policies = {**members(group), **members(solo)}
    assert [names for _, names in groups(policies).values()] == [
        ["agent_0", "agent_1"],
        ["agent_2"],
    ]
    state = train(env, policies, total_steps=5, seed=0)
    assert group.calls["explore"] == [["agent_0", "agent_1"]] * 5
    assert solo.calls["observe"] == [["agent_2"]] * 5
    assert set(state.metrics) == {"agent_0+agent_1", "agent_2"}
    with pytest.raises(ValueError, match="not in the group"):
        Member(group, "agent_2")


def test_group_folder_names() -> None:
    assert group_folder("adversary_*") == "adversary_all"
    assert group_folder("*") == "all"
    assert group_folder("agent_?") == "agent_any"
    assert group_folder("player_0") == "player_0"


# Rock-paper-scissors: a one-agent group must learn paper against rock (noop = 0), be saved
# as one folder for its pattern, and fill seats of later stages and of a tournament.
SCENARIO = f"""
    name: joint-rps
    seed: 5
    stages:
      - kind: train
        name: learn
        env: {{id: classic/rps_v2, params: {{max_cycles: 10}}}}
        agents:
          "player_0*": {{id: "{JOINT}:TinyJoint"}}
          player_1: noop
        steps: 300
        eval_every: 150
        eval_episodes: 2
      - kind: evaluate
        name: check
        env: {{id: classic/rps_v2, params: {{max_cycles: 10}}}}
        agents:
          "player_0*": {{checkpoint: "@learn/player_0*"}}
          player_1: noop
        episodes: 3
"""


def test_train_stage_saves_a_group_and_later_stages_use_it(write_yaml, tmp_path) -> None:
    result = run(load_scenario(write_yaml(SCENARIO)), tmp_path / "run", show=False)
    train_result, check = result.stages
    assert train_result["curve"][-1]["eval_return"] == 10.0
    assert list(train_result["checkpoints"]) == ["player_0*"]
    folder = tmp_path / "run" / "learn" / "checkpoints" / "final" / "player_0all"
    config = json.loads((folder / "config.json").read_text())
    assert config["agents"] == ["player_0"] and config["observation_space"].startswith("{")
    assert check["metrics"]["agents"]["player_0"]["return"]["mean"] == 10.0

    resumed = load_scenario(
        write_yaml(SCENARIO),
        [f"stages.0.resume_from={tmp_path / 'run' / 'learn' / 'checkpoints' / 'step-150'}"],
    )
    again = run(resumed, tmp_path / "again", show=False).stages[0]
    assert [row["step"] for row in again["curve"]] == [300]
    weights = torch.load(
        tmp_path / "again" / "learn" / "checkpoints" / "final" / "player_0all" / "weights.pt",
        weights_only=True,
    )
    assert weights["steps"] == 300

    tournament = f"""
        name: joint-ladder
        seed: 1
        kind: tournament
        env: {{id: classic/rps_v2, params: {{max_cycles: 10}}}}
        entrants:
          trained: {{id: "{JOINT}:TinyJoint", checkpoint: "{folder}"}}
          rock: noop
        rounds: 2
        leaderboard: joint-ladder
        db: {tmp_path / "board.sqlite"}
    """
    with pytest.raises(BadInput, match="trained with observation space"):
        # the group was trained as player_0 only; a non-team entrant fills both seats
        run(load_scenario(write_yaml(tournament)), tmp_path / "t0", show=False)
    team = tournament.replace(
        f'trained: {{id: "{JOINT}:TinyJoint", checkpoint: "{folder}"}}',
        f'trained: {{agents: {{"player_0": {{id: "{JOINT}:TinyJoint", checkpoint: "{folder}"}}, '
        '"player_1": noop}}',
    )
    stage = run(load_scenario(write_yaml(team)), tmp_path / "t1", show=False).stages[0]
    assert len(stage["games"]) == 4 and stage["forfeits"] == []
