"""Every shipped scenario validates, builds its envs and teams, and runs a short version."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed import load_scenario, run
from testbed.build import build_env, build_team
from testbed.tournament_play import GameRunner

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def test_there_are_scenarios():
    assert any(p.name == "quickstart.yaml" for p in SCENARIOS)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_validates_and_builds(path):
    scenario = load_scenario(path)
    assert scenario.description, "every shipped scenario says what it shows"
    for index, stage in enumerate(scenario.stages):
        env = build_env(scenario, index)
        if stage.kind == "tournament":
            GameRunner(scenario, index).check_entrants()
        elif all(
            ref.checkpoint is None or not ref.checkpoint.startswith("@")
            for ref in stage.agents.values()
        ):
            team, seats = build_team(scenario, index, env)
            assert set(seats) == set(env.possible_agents)
        env.close()


QUICK = {
    "evaluate": ["episodes=2"],
    "audit": ["episodes=2"],
    "tournament": ["rounds=1"],
    "train": ["steps=200", "eval_every=100", "eval_episodes=1"],
}


def quick_overrides(path: Path) -> list[str]:
    """Shorten every stage: 2 episodes, 1 tournament round, 200 training steps."""
    stages = load_scenario(path).stages
    if len(stages) == 1:
        return QUICK[stages[0].kind]
    return [f"stages.{i}.{o}" for i, s in enumerate(stages) for o in QUICK[s.kind]]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_runs_a_short_version(path, tmp_path):
    scenario = load_scenario(path, quick_overrides(path))
    result = run(scenario, tmp_path / "run", show=False, db=tmp_path / "lb.sqlite")
    assert result.status == "ok"
    for stage in result.stages:
        if stage["kind"] in ("evaluate", "audit"):
            assert stage["episodes"] == 2
        elif stage["kind"] == "tournament":
            assert stage["games_total"] > 0 and not stage["forfeits"]
        else:
            assert stage["steps"] == 200
    assert (tmp_path / "run" / "result.json").is_file()
