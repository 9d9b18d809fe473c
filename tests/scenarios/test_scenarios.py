"""Every shipped scenario validates, builds its envs and teams, and runs a short version."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed import load_scenario, run, stages
from testbed.population.stage import check_population
from testbed.rollout.build import build_env, build_team
from testbed.tournament.play import GameRunner

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))
TINY_MODEL = "runs/tiny-llm"  # what the language-model scenarios load (`testbed llm tiny-model`)


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory) -> Path:
    """A working folder holding the tiny random language model at runs/tiny-llm."""
    from testbed.agents.llm.tiny import build_tiny_model

    folder = tmp_path_factory.mktemp("llm")
    build_tiny_model(folder / TINY_MODEL)
    return folder


@pytest.fixture(autouse=True)
def _tiny_model_for_llm_scenarios(request, monkeypatch):
    """Scenarios that load the tiny model run in a folder that has it, as after the README's
    `testbed llm tiny-model runs/tiny-llm` (and write their language-model cache there)."""
    path = getattr(getattr(request.node, "callspec", None), "params", {}).get("path")
    if path is not None and "runs/llm-cache" in path.read_text(encoding="utf-8"):
        pytest.importorskip("transformers")
        monkeypatch.chdir(request.getfixturevalue("tiny_model_folder"))


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
        elif stage.kind == "population":
            refs = [ref.checkpoint or "" for _, ref in stage.agent_refs()]
            if not any(r.startswith("@") for r in refs):  # else: checkpoints of this run
                assert check_population(scenario, index)
        elif all(
            ref.checkpoint is None or not ref.checkpoint.startswith("@")
            for ref in stage.agents.values()
        ):
            team, seats = build_team(scenario, index, env)
            assert set(seats) == set(env.possible_agents)
        env.close()


def quick_overrides(path: Path) -> list[str]:
    """Shorten every stage by its kind's `quick` settings (testbed/stages.py)."""
    return stages.quick_overrides(load_scenario(path))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_runs_a_short_version(path, tmp_path):
    scenario = load_scenario(path, quick_overrides(path))
    result = run(scenario, tmp_path / "run", show=False, db=tmp_path / "lb.sqlite")
    assert result.status == "ok"
    for stage in result.stages:
        if stage["kind"] == "evaluate" and "adaptation" in stage["metrics"]:
            assert stage["metrics"]["adaptation"]["return"]  # held-out tasks: `tasks.count`
        elif stage["kind"] in ("evaluate", "audit"):
            assert stage["episodes"] == 2
        elif stage["kind"] == "collect":
            assert stage["episodes"] == 2 and stage["steps"] > 0
        elif stage["kind"] == "tournament":
            assert stage["games_total"] > 0 and not stage["forfeits"]
        elif stage["kind"] == "meta_train":
            assert stage["iterations"] == 2
        elif stage["kind"] == "population":
            assert stage["episodes"] == 2 and stage["rows"]
        else:
            assert stage["steps"] == 200
    assert (tmp_path / "run" / "result.json").is_file()
