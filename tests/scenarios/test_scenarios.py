"""Every shipped scenario validates, builds its envs and teams, and runs a short version."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed import load_scenario, run
from testbed.build import build_env, build_team

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def test_there_are_scenarios():
    assert any(p.name == "quickstart.yaml" for p in SCENARIOS)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_validates_and_builds(path):
    scenario = load_scenario(path)
    assert scenario.description, "every shipped scenario says what it shows"
    for index in range(len(scenario.stages)):
        env = build_env(scenario, index)
        team, seats = build_team(scenario, index, env)
        assert set(seats) == set(env.possible_agents)
        env.close()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_runs_two_episodes(path, tmp_path):
    scenario = load_scenario(path, ["episodes=2"])
    result = run(scenario, tmp_path, show=False)
    assert result.status == "ok"
    assert all(stage["episodes"] == 2 for stage in result.stages)
    assert (tmp_path / "result.json").is_file()
