from __future__ import annotations

import json

import pytest
from rich.console import Console

from testbed import load_scenario, run
from testbed.errors import BadInput, RunFailed

SPREAD = """
name: spread
seed: 3
kind: evaluate
env: mpe/simple_spread_v3
agents:
  "*": random
episodes: 12
"""


def quiet_console():
    import io

    return Console(file=io.StringIO(), width=100, color_system=None)


def test_run_writes_result_and_episode_log(write_yaml, tmp_path):
    scenario = load_scenario(write_yaml(SPREAD))
    result = run(scenario, tmp_path / "out", console=quiet_console())
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    assert data["status"] == "ok" and data["scenario"] == "spread"
    stage = data["stages"][0]
    assert stage["episodes"] == 12 and stage["seats"] == {f"agent_{i}": "random" for i in range(3)}
    team = stage["metrics"]["team"]["return"]
    assert team["n"] == 12 and team["ci_low"] < team["mean"] < team["ci_high"]
    lines = (tmp_path / "out" / "episodes.jsonl").read_text().splitlines()
    assert [json.loads(line)["episode"] for line in lines] == list(range(12))
    assert result.stages[0]["metrics"] == stage["metrics"]


def test_report_renders_tables(write_yaml, tmp_path):
    console = quiet_console()
    run(load_scenario(write_yaml(SPREAD)), console=console)
    text = console.file.getvalue()
    assert "evaluate spread" in text and "mpe/simple_spread_v3" in text
    for word in ("return", "cost", "length", "agent_0", "random", "12 episodes"):
        assert word in text


def test_one_and_two_workers_give_identical_results(write_yaml, tmp_path):
    scenario = load_scenario(write_yaml(SPREAD))
    one = run(scenario, tmp_path / "one", show=False)
    two = run(scenario, tmp_path / "two", workers=2, show=False)
    assert [r.to_dict() for r in one.stages[0]["records"]] == [
        r.to_dict() for r in two.stages[0]["records"]
    ]
    assert one.stages[0]["metrics"] == two.stages[0]["metrics"]


def test_a_crashing_agent_fails_the_run_and_keeps_finished_episodes(write_yaml, tmp_path):
    (tmp_path / "flaky.py").write_text(
        "from testbed.agents.baselines.random import RandomPolicy\n"
        "class Flaky(RandomPolicy):\n"
        "    calls = 0\n"
        "    def act(self, observation, action_mask=None):\n"
        "        Flaky.calls += 1\n"
        "        if Flaky.calls > 3 * 25 * 2:\n"
        "            raise RuntimeError('boom')\n"
        "        return super().act(observation, action_mask)\n"
    )
    path = write_yaml(SPREAD.replace('"*": random', '"*": flaky.py:Flaky'))
    with pytest.raises(RunFailed, match="episode 2 .*RuntimeError: boom"):
        run(load_scenario(path), tmp_path / "out", show=False)
    lines = (tmp_path / "out" / "episodes.jsonl").read_text().splitlines()
    assert len(lines) == 2  # the two finished episodes are kept
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    assert data["status"] == "failed" and "boom" in data["error"]


def test_uncovered_agent_is_bad_input(write_yaml):
    path = write_yaml(SPREAD.replace('"*": random', '"agent_0": random'))
    with pytest.raises(BadInput, match="no entry in `agents` matches env agent 'agent_1'"):
        run(load_scenario(path), show=False)


def test_pattern_matching_no_agent_is_bad_input(write_yaml):
    path = write_yaml(SPREAD.replace('"*": random', '"*": random\n  "adversary_*": noop'))
    with pytest.raises(BadInput, match="'adversary_\\*' matches no agent"):
        run(load_scenario(path), show=False)


def test_reusing_a_run_directory_is_refused(write_yaml, tmp_path):
    scenario = load_scenario(write_yaml(SPREAD.replace("episodes: 12", "episodes: 2")))
    run(scenario, tmp_path / "out", show=False)
    with pytest.raises(BadInput, match="already holds a run"):
        run(scenario, tmp_path / "out", show=False)


def test_a_failure_while_building_is_recorded_as_failed(write_yaml, tmp_path):
    (tmp_path / "broken.py").write_text(
        "class Broken:\n    def __init__(self, o, a, c):\n        raise RuntimeError('nope')\n"
        "    def reset(self, seed=None): ...\n    def act(self, obs, mask=None): ...\n"
    )
    path = write_yaml(SPREAD.replace('"*": random', '"*": broken.py:Broken'))
    with pytest.raises(RunFailed, match="RuntimeError: nope"):
        run(load_scenario(path), tmp_path / "out", show=False)
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    assert data["status"] == "failed" and "nope" in data["error"]


def test_seeds_do_not_depend_on_the_file_name(write_yaml):
    one = run(load_scenario(write_yaml(SPREAD, "a.yaml")), show=False)
    two = run(load_scenario(write_yaml(SPREAD, "b.yaml")), show=False)
    assert [r.seed for r in one.stages[0]["records"]] == [r.seed for r in two.stages[0]["records"]]


def test_stage_names_must_be_unique(write_yaml):
    path = write_yaml("""
        stages:
          - {kind: evaluate, name: a, env: classic/rps_v2, agents: {"*": random}}
          - {kind: evaluate, name: a, env: classic/rps_v2, agents: {"*": random}}
    """)
    with pytest.raises(BadInput, match="'a' repeats"):
        load_scenario(path)
