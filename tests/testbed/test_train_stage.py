"""`kind: train`: curves, checkpoints, `@stage/agent` references, resume, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from testbed import load_scenario
from testbed.errors import BadInput
from testbed.runner import run

TINY = Path(__file__).resolve().parents[1] / "support" / "tiny_learner.py"

# Rock-paper-scissors against an opponent that always plays rock (noop = action 0): the tiny
# learner must find paper (action 1).
TRAIN = f"""
    name: rps-train
    seed: 5
    stages:
      - kind: train
        name: learn
        env: {{id: classic/rps_v2, params: {{max_cycles: 10}}}}
        agents:
          player_0: {{id: "{TINY}:TinyLearner"}}
          player_1: noop
        steps: 300
        eval_every: 100
        eval_episodes: 2
      - kind: evaluate
        name: check
        env: {{id: classic/rps_v2, params: {{max_cycles: 10}}}}
        agents:
          player_0: {{checkpoint: "@learn/player_0"}}
          player_1: noop
        episodes: 3
"""


def _curve(folder: Path) -> list[dict[str, str]]:
    with (folder / "learn" / "curve.csv").open() as f:
        return list(csv.DictReader(f))


def test_train_then_evaluate_the_trained_checkpoint(write_yaml, tmp_path) -> None:
    result = run(load_scenario(write_yaml(TRAIN)), tmp_path / "run", show=False)
    train, check = result.stages
    assert train["steps"] == 300 and train["episodes"] == 30
    assert [row["step"] for row in train["curve"]] == [100, 200, 300]
    assert train["curve"][-1]["eval_return"] == 10.0  # paper beats rock every cycle
    assert [int(r["step"]) for r in _curve(tmp_path / "run")] == [100, 200, 300]
    folder = tmp_path / "run" / "learn" / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["final", "step-100", "step-200"]
    config = json.loads((folder / "final" / "player_0" / "config.json").read_text())
    assert config["step"] == 300 and config["agent"].endswith("TinyLearner")
    assert (
        torch.load(folder / "final" / "player_0" / "weights.pt", weights_only=True)["steps"] == 300
    )
    assert check["metrics"]["agents"]["player_0"]["return"]["mean"] == 10.0
    assert (tmp_path / "run" / "learn" / "curve.png").stat().st_size > 0


def test_same_seed_same_curve_and_resume_continues(write_yaml, tmp_path) -> None:
    scenario = load_scenario(write_yaml(TRAIN))
    first = run(scenario, tmp_path / "a", show=False).stages[0]
    second = run(scenario, tmp_path / "b", show=False).stages[0]
    assert first["curve"] == [
        dict(r, seconds=s["seconds"]) for r, s in zip(second["curve"], first["curve"], strict=True)
    ]
    saved = tmp_path / "a" / "learn" / "checkpoints" / "step-200"
    resumed = load_scenario(write_yaml(TRAIN), [f"stages.0.resume_from={saved}"])
    result = run(resumed, tmp_path / "c", show=False).stages[0]
    assert [row["step"] for row in result["curve"]] == [300]
    weights = torch.load(
        tmp_path / "c" / "learn" / "checkpoints" / "final" / "player_0" / "weights.pt",
        weights_only=True,
    )
    assert weights["steps"] == 300  # 200 restored + 100 trained


def test_train_bad_input(write_yaml, tmp_path) -> None:
    no_learner = TRAIN.replace(f'{{id: "{TINY}:TinyLearner"}}', "random", 1)
    with pytest.raises(BadInput, match="no agent of train stage 'learn' learns"):
        run(load_scenario(write_yaml(no_learner)), tmp_path / "x", show=False)
    unknown = TRAIN.replace("@learn/player_0", "@lern/player_0")
    with pytest.raises(BadInput, match="names no earlier `kind: train` stage") as info:
        load_scenario(write_yaml(unknown))
    assert "scenario.yaml:" in str(info.value)
    wrong_agent = TRAIN.replace("@learn/player_0", "@learn/player_9")
    with pytest.raises(BadInput, match="no such trained agent in this run"):
        run(load_scenario(write_yaml(wrong_agent)), tmp_path / "y", show=False)
    missing = TRAIN.replace('"@learn/player_0"', "no/such/folder")
    with pytest.raises(BadInput, match="checkpoint folder .*no/such/folder.* not found"):
        load_scenario(write_yaml(missing))


def test_checkpoint_for_other_spaces_is_refused(write_yaml, tmp_path) -> None:
    run(load_scenario(write_yaml(TRAIN)), tmp_path / "run", show=False)
    saved = tmp_path / "run" / "learn" / "checkpoints" / "final" / "player_0"
    lizard = write_yaml(
        f"""
        kind: evaluate
        env: {{id: classic/rps_v2, params: {{num_actions: 5}}}}
        agents:
          player_0: {{id: "{TINY}:TinyLearner", checkpoint: "{saved}"}}
          player_1: noop
        episodes: 1
    """,
        "lizard.yaml",
    )
    with pytest.raises(
        BadInput,
        match=r"lizard.yaml:4: agents.player_0: .* trained with observation space "
        r"Discrete\(4\), but this seat has Discrete\(6\)",
    ):
        run(load_scenario(lizard), tmp_path / "z", show=False)


def test_tensorboard_without_the_package_is_one_clear_error(write_yaml, tmp_path) -> None:
    """Without tensorboard installed (the tested set), asking for it is bad input; with it,
    event files are written."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        scenario = load_scenario(write_yaml(TRAIN), ["stages.0.tensorboard=true"])
        with pytest.raises(BadInput, match="needs the tensorboard package"):
            run(scenario, tmp_path / "tb", show=False)
        return
    scenario = load_scenario(write_yaml(TRAIN), ["stages.0.tensorboard=true"])
    run(scenario, tmp_path / "tb", show=False)
    assert any((tmp_path / "tb" / "learn" / "tensorboard").iterdir())
