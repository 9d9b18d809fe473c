"""`tasks:` on a train stage: segments train on drawn tasks (simple_spread's agent count),
one padded MAPPO acts for every count, and tasks the learners cannot read are bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import testbed
from testbed.errors import BadInput
from testbed.train import tasks as tasks_module

MAPPO = {"id": "mappo", "params": {"max_agents": 4, "rollout_steps": 100, "epochs": 1,
                                   "hidden": [16]}}  # fmt: skip


def _scenario(tmp_path: Path, env_params: dict, tasks: dict, num_envs: int = 4) -> Path:
    train = {"kind": "train", "name": "multi", "env": {"id": "mpe/simple_spread_v3",
             "params": env_params}, "agents": {"*": MAPPO}, "steps": 600, "num_envs": num_envs,
             "eval_every": 300, "eval_episodes": 1, "tasks": tasks}  # fmt: skip
    evaluate = {"kind": "evaluate", "name": "two", "env": {"id": "mpe/simple_spread_v3",
                "params": {"N": 2, "max_agents": 4}}, "agents": {"*": {"checkpoint": "@multi/*"}},
                "episodes": 2}  # fmt: skip
    path = tmp_path / "tasks.yaml"
    path.write_text(yaml.safe_dump({"name": "tasks", "seed": 3, "stages": [train, evaluate]}))
    return path


@pytest.mark.parametrize("num_envs", [4, 1])
def test_segments_train_one_network_on_drawn_agent_counts(tmp_path, monkeypatch, num_envs):
    built = []
    original = tasks_module.build_env

    def recording(scenario, index, **task):
        built.append(task["N"])
        return original(scenario, index, **task)

    monkeypatch.setattr(tasks_module, "build_env", recording)
    tasks = {"params": {"N": [2, 3, 4]}, "every": 100}
    path = _scenario(tmp_path, {"N": 4, "max_agents": 4}, tasks, num_envs)
    result = testbed.run(testbed.load_scenario(str(path)), out=tmp_path / "run", show=False)
    assert len(built) == 6 and set(built) == {2, 3, 4}  # one task per 100-step segment
    train, evaluate = result.stages
    assert train.steps == 600 and [r["step"] for r in train.curve] == [300, 600]
    assert evaluate.episodes == 2  # the 4-slot network plays the 2-agent task
    again = []
    monkeypatch.setattr(
        tasks_module, "build_env", lambda s, i, **t: again.append(t["N"]) or original(s, i, **t)
    )
    testbed.run(testbed.load_scenario(str(path)), out=tmp_path / "again", show=False)
    assert again == built  # the draws are the seed's


def test_tasks_the_learners_cannot_read_are_one_message(tmp_path):
    path = _scenario(tmp_path, {"N": 3, "max_agents": 4}, {"params": {"N": [4]}, "every": 100})
    with pytest.raises(BadInput, match=r"agents \['agent_3'\] that the stage's env does not"):
        testbed.run(testbed.load_scenario(str(path)), out=tmp_path / "a", show=False)
    path = _scenario(tmp_path, {"N": 4}, {"params": {"N": [2]}, "every": 100})
    with pytest.raises(BadInput, match="max_agents") as info:
        testbed.run(testbed.load_scenario(str(path)), out=tmp_path / "b", show=False)
    assert "tasks.yaml" in str(info.value) and "tasks.params" in str(info.value)


def test_every_task_is_checked_before_any_training(tmp_path, monkeypatch):
    """A bad value drawn late (here N = 5 > max_agents) stops the run before segment one."""
    trained = []
    monkeypatch.setattr(tasks_module, "build_env", lambda *a, **t: trained.append(t))
    tasks = {"params": {"N": [2, 2, 2, 2, 2, 5]}, "every": 50}  # 12 segments: 5 comes late
    path = _scenario(tmp_path, {"N": 4, "max_agents": 4}, tasks)
    with pytest.raises(BadInput, match="max_agents"):
        testbed.run(testbed.load_scenario(str(path)), out=tmp_path / "late", show=False)
    assert trained == []


def test_learners_that_cannot_end_episodes_at_a_switch_are_refused(tmp_path):
    path = _scenario(tmp_path, {"N": 3}, {"params": {"N": [3]}, "every": 100})
    data = yaml.safe_load(path.read_text())
    data["stages"][0]["agents"] = {"*": {"id": "ppo", "params": {"hidden": [8]}}}
    data["stages"] = data["stages"][:1]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(BadInput, match="cannot train on tasks") as info:
        testbed.run(testbed.load_scenario(str(path)), out=tmp_path / "ppo", show=False)
    assert "tasks" in str(info.value)
