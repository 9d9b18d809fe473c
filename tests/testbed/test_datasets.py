"""Datasets: `kind: collect` writes what was played (observations, actions, rewards, costs,
ends and seeds, per agent) and reading gives it back; a train stage learns from it; a missing
or damaged dataset is one clear message and exit 2; `testbed datasets` lists them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from testbed import load_scenario, run
from testbed.cli import main
from testbed.datasets.collect import play_and_record
from testbed.datasets.store import datasets_root, load_episodes
from testbed.rollout.build import build_env, build_team
from testbed.seeding import EpisodeSeeds

COLLECT = """
name: data
seed: 3
stages:
  - kind: collect
    name: nav
    env: testbed/safe_navigation_v0
    agents: {"*": scripted/unsafe_navigator}
    dataset: nav/unsafe-v0
    episodes: 3
    epsilon: 0.2
    max_steps: 15
"""

TRAIN = """
  - kind: train
    name: clone
    env: testbed/safe_navigation_v0
    agents: {"*": bc}
    dataset: nav/unsafe-v0
    steps: 40
    eval_every: 20
    eval_episodes: 1
    max_steps: 30
  - kind: evaluate
    name: check
    env: testbed/safe_navigation_v0
    agents: {robot_0: {checkpoint: "@clone/robot_0"}, "*": scripted/safe_navigator}
    episodes: 2
    max_steps: 30
"""


def test_collect_writes_what_was_played_and_reads_it_back(write_yaml, tmp_path):
    scenario = load_scenario(write_yaml(COLLECT))
    result = run(scenario, tmp_path / "run", show=False).stages[0]
    assert set(result.datasets) == {"robot_0", "robot_1", "robot_2"}
    assert result.datasets["robot_1"] == "nav/unsafe/robot_1-v0"
    # play the same episodes again: the dataset holds exactly them
    env = build_env(scenario, 0)
    team, _ = build_team(scenario, 0, env)
    seeds = EpisodeSeeds(scenario.stage_seed(0), 3, scenario.seed_stream(0))
    again = [play_and_record(env, team, s, epsilon=0.2, max_steps=15) for s in seeds]
    total_cost = 0.0
    for agent, dataset_id in result.datasets.items():
        read = load_episodes(
            datasets_root(), dataset_id, env.observation_space(agent), env.action_space(agent)
        )
        assert [e.seed for e in read] == list(seeds)
        for got, want in zip(read, (a[agent] for a in again), strict=True):
            assert len(got) == len(want) > 0
            np.testing.assert_array_equal(np.array(got.observations), np.array(want.observations))
            np.testing.assert_array_equal(np.array(got.actions), np.array(want.actions))
            assert got.rewards == pytest.approx(want.rewards, abs=1e-6)
            assert got.costs == want.costs
            assert got.terminations == want.terminations
            assert got.truncations == want.truncations
            total_cost += sum(got.costs)
    assert total_cost > 0, "the unsafe navigator with noise should have paid some cost"
    assert any(e.truncations[-1] for e in read), "episodes cut at max_steps end truncated"


def test_train_from_dataset_and_its_checkpoint_plays(write_yaml, tmp_path):
    result = run(load_scenario(write_yaml(COLLECT + TRAIN)), tmp_path / "run", show=False)
    assert result.status == "ok", result.error
    train = result.stages[1]
    assert train.steps == 40 and train.episodes == 0  # gradient steps, no env episodes
    assert [row["step"] for row in train.curve] == [20, 40]
    assert set(train.checkpoints) == {"robot_0", "robot_1", "robot_2"}
    assert result.stages[2].episodes == 2
    again = run(load_scenario(write_yaml(COLLECT + TRAIN)), tmp_path / "again", show=False)
    assert [r["eval_return"] for r in again.stages[1].curve] == [
        r["eval_return"] for r in train.curve
    ]  # same scenario and seed: the same data and the same learning
    assert again.stages[2].metrics == result.stages[2].metrics


def _run_cli(path: Path, capsys) -> tuple[int, str]:
    code = main(["run", str(path), "--out", str(path.parent / "out")])
    return code, capsys.readouterr().err


def test_missing_dataset_is_bad_input(write_yaml, capsys):
    text = "name: d\nstages:" + TRAIN.replace("nav/unsafe-v0", "nav/none-v0")
    code, err = _run_cli(write_yaml(text), capsys)
    assert code == 2
    assert "no dataset 'nav/none/robot_0-v0'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncate_hdf5", "data/main_data.hdf5 cannot be read"),
        ("bad_metadata", "data/metadata.json does not parse"),
        ("no_hdf5", "data/main_data.hdf5 is missing"),
    ],
)
def test_damaged_dataset_is_bad_input(write_yaml, tmp_path, capsys, damage, message):
    run(load_scenario(write_yaml(COLLECT, "collect.yaml")), tmp_path / "c", show=False)
    data = Path(os.environ["MINARI_DATASETS_PATH"]) / "nav/unsafe/robot_0-v0" / "data"
    if damage == "truncate_hdf5":
        blob = (data / "main_data.hdf5").read_bytes()
        (data / "main_data.hdf5").write_bytes(blob[: len(blob) // 3])
    elif damage == "bad_metadata":
        (data / "metadata.json").write_text("{not json", encoding="utf-8")
    else:
        (data / "main_data.hdf5").unlink()
    code, err = _run_cli(write_yaml("name: d\nstages:" + TRAIN), capsys)
    assert code == 2, err
    assert message in err and "robot_0-v0" in err and "Traceback" not in err


def test_dataset_of_other_spaces_is_bad_input(write_yaml, capsys, tmp_path):
    cartpole = """
    name: cp
    stages:
      - {kind: collect, env: gym/CartPole-v1, agents: {"*": random}, dataset: cp/r-v0, episodes: 2}
    """
    run(load_scenario(write_yaml(cartpole, "collect.yaml")), tmp_path / "c", show=False)
    acrobot = """
    name: ac
    stages:
      - {kind: train, env: gym/Acrobot-v1, agents: {"*": bc}, dataset: cp/r-v0, steps: 10}
    """
    code, err = _run_cli(write_yaml(acrobot), capsys)
    assert code == 2 and "Traceback" not in err
    assert "cp/r-v0" in err and "observation_space is Box" in err and "expected the env's" in err


def test_datasets_command_lists_them(write_yaml, tmp_path, capsys):
    run(load_scenario(write_yaml(COLLECT)), tmp_path / "run", show=False)
    capsys.readouterr()
    assert main(["datasets", "--json"]) == 0
    listed = {d["id"]: d for d in json.loads(capsys.readouterr().out)["datasets"]}
    assert set(listed) == {f"nav/unsafe/robot_{i}-v0" for i in range(3)}
    assert listed["nav/unsafe/robot_0-v0"]["episodes"] == 3
    assert listed["nav/unsafe/robot_0-v0"]["algorithm"] == "scripted/unsafe_navigator"
    assert main(["datasets", "--path", str(tmp_path / "nowhere")]) == 2


def test_gail_trains_vectorized_from_a_dataset_and_needs_one(write_yaml, tmp_path, capsys):
    text = """
    name: gail
    stages:
      - {kind: collect, env: gym/CartPole-v1, agents: {"*": random}, dataset: cp/d-v0, episodes: 3}
      - kind: train
        env: gym/CartPole-v1
        agents: {"*": {id: gail, params: {hidden: [16], rollout_steps: 32, minibatch_size: 32}}}
        dataset: cp/d-v0
        num_envs: 2
        steps: 128
        eval_every: 64
        eval_episodes: 1
    """
    result = run(load_scenario(write_yaml(text)), tmp_path / "run", show=False)
    assert result.status == "ok", result.error
    train = result.stages[1]
    assert train.steps == 128 and "disc_loss" in train.metrics["agent_0"]
    without = write_yaml(text.replace("        dataset: cp/d-v0\n", ""), "no_data.yaml")
    code, err = _run_cli(without, capsys)
    assert code == 2 and "learns from a dataset" in err and "Traceback" not in err


TURNS = """
name: turns
seed: 5
stages:
  - kind: collect
    name: games
    env: classic/tictactoe_v3
    agents: {player_1: scripted/tictactoe, player_2: random}
    dataset: ttt/mixed-v0
    episodes: 6
"""


def test_turn_based_games_are_collected_per_player(write_yaml, tmp_path):
    """Each player's dataset holds its own moves; a move's reward is what the player got until
    its next turn, so each game's result lands on both players' last moves (zero-sum)."""
    scenario = load_scenario(write_yaml(TURNS))
    result = run(scenario, tmp_path / "run", show=False).stages[0]
    assert result.datasets == {
        "player_1": "ttt/mixed/player_1-v0",
        "player_2": "ttt/mixed/player_2-v0",
    }
    env = build_env(scenario, 0)
    read = {
        agent: load_episodes(
            datasets_root(), dataset_id, env.observation_space(agent), env.action_space(agent)
        )
        for agent, dataset_id in result.datasets.items()
    }
    seeds = list(EpisodeSeeds(scenario.stage_seed(0), 6, scenario.seed_stream(0)))
    for first, second in zip(read["player_1"], read["player_2"], strict=True):
        assert first.seed == second.seed and first.seed in seeds
        assert len(first) - len(second) in (0, 1)  # player_1 opens; moves alternate
        assert len(first.observations) == len(first) + 1
        assert sum(first.rewards) == -sum(second.rewards)  # win, loss or draw
        assert first.terminations[-1] and second.terminations[-1]
        assert not any(first.terminations[:-1]) and set(first.rewards[:-1]) <= {0.0}
        for obs, action in zip(first.observations, first.actions, strict=False):
            assert obs["action_mask"][action] == 1  # only legal moves were recorded
    wins = sum(sum(e.rewards) > 0 for e in read["player_1"])
    assert wins >= 4, "the heuristic should beat a random player most of the time"


def test_a_turn_based_game_cut_at_max_steps_ends_truncated(write_yaml):
    scenario = load_scenario(write_yaml(TURNS))
    env = build_env(scenario, 0)
    team, _ = build_team(scenario, 0, env)
    played = play_and_record(env, team, 11, max_steps=3)
    assert [len(played["player_1"]), len(played["player_2"])] == [2, 1]
    for episode in played.values():
        assert episode.truncations[-1] and not episode.terminations[-1]
        assert len(episode.observations) == len(episode) + 1


TEACH = """
name: teach
seed: 2
stages:
  - kind: train
    name: teacher
    env: gym/CartPole-v1
    agents: {"*": {id: ppo, params: {rollout_steps: 32, minibatch_size: 16, epochs: 1}}}
    steps: 64
    eval_episodes: 1
  - kind: train
    name: student
    env: gym/CartPole-v1
    agents:
      "*":
        id: dagger
        params: {expert_checkpoint: "@teacher/agent_0", round_steps: 50, gradient_steps: 50}
    steps: 100
    eval_episodes: 1
"""


def test_dagger_expert_may_be_a_checkpoint_trained_earlier_in_the_run(write_yaml, tmp_path, capsys):
    result = run(load_scenario(write_yaml(TEACH)), tmp_path / "run", show=False)
    student = result.stages[1]
    assert student.metrics["agent_0"]["labelled_states"] == 100
    assert student.checkpoints["agent_0"]
    wrong = write_yaml(TEACH.replace("@teacher/agent_0", "@nobody/agent_0"))
    assert main(["run", str(wrong)]) == 2
    assert "expert_checkpoint: '@nobody/agent_0' names no earlier" in capsys.readouterr().err
