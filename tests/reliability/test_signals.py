"""SIGTERM and SIGINT stop a run within seconds (also on MPE, where pygame would swallow
SIGTERM), keep every finished episode and game, write result.json as `interrupted` with a
resume command, and `--resume` into the same folder finishes exactly as an uninterrupted run."""

from __future__ import annotations

import json
import signal
import sqlite3

import pytest
from processes import alive, children_of, lines, start, stop, wait_for

from testbed import load_scenario, run

SPREAD = """
name: spread-long
stages:
  - kind: evaluate
    name: first
    env: mpe/simple_spread_v3
    agents: {"*": random}
    episodes: %d
  - kind: audit
    name: gate
    env: testbed/safe_navigation_v0
    agents: {"*": scripted/safe_navigator}
    episodes: 40
    constraints: [{name: c, limit: 2, max_violation_rate: 0.5}]
"""


def comparable(path) -> list[dict]:
    """A run's stage results without timings and the ids of its database run."""
    stages = json.loads(path.read_text())["stages"]
    drop = {"wall_time_s", "episodes_per_s", "games_seconds", "games_resumed", "run_id", "db"}
    kept = [{k: v for k, v in s.items() if k not in drop} for s in stages]
    for stage in kept:
        for game in stage.get("games", []):
            game.pop("seconds")
    return kept


@pytest.mark.timeout(180)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_an_mpe_run_at_once_and_resume_finishes_it(write_yaml, tmp_path, signum):
    path = write_yaml(SPREAD % 400)
    out = tmp_path / "run"
    process = start(["run", path, "--out", out, "--quiet"], tmp_path)
    wait_for(lambda: lines(out / "episodes.jsonl") >= 20)
    seconds = stop(process, signum)
    assert seconds < 5 and process.returncode == 128 + signum
    stderr = process.stderr.read()
    assert f"stopped by {signal.Signals(signum).name}" in stderr
    assert "Traceback" not in stderr
    saved = json.loads((out / "result.json").read_text())
    assert saved["status"] == "interrupted"
    assert saved["resume"] == f"testbed run {path} --out {out} --quiet --resume"
    kept = lines(out / "episodes.jsonl")
    assert 20 <= kept < 400

    resumed = start(["run", path, "--out", out, "--quiet", "--resume"], tmp_path)
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read()
    reference = run(load_scenario(path), tmp_path / "reference", show=False)
    assert reference.status == "ok"
    assert comparable(out / "result.json") == comparable(tmp_path / "reference" / "result.json")
    assert sorted((out / "episodes.jsonl").read_text().splitlines()) == sorted(
        (tmp_path / "reference" / "episodes.jsonl").read_text().splitlines()
    )


@pytest.mark.timeout(60)
def test_a_huge_episode_count_plays_at_once_and_stops_on_sigterm(write_yaml, tmp_path):
    path = write_yaml(
        "kind: evaluate\nenv: classic/rps_v2\nagents: {'*': random}\nepisodes: 1000000000000\n"
    )
    process = start(["run", path, "--out", tmp_path / "run", "--quiet"], tmp_path)
    wait_for(lambda: lines(tmp_path / "run" / "episodes.jsonl") >= 5, seconds=20)
    assert stop(process) < 5 and process.returncode == 143


@pytest.mark.timeout(240)
def test_a_stopped_tournament_resumes_in_its_folder_to_the_same_table(write_yaml, tmp_path):
    path = write_yaml(
        f"""
        kind: tournament
        env: testbed/breakthrough_v0
        rounds: 30
        db: {tmp_path / "lb.sqlite"}
        entrants:
          depth0: {{id: scripted/breakthrough_search, params: {{depth: 0}}}}
          depth1: {{id: scripted/breakthrough_search, params: {{depth: 1}}}}
          depth2: {{id: scripted/breakthrough_search, params: {{depth: 2}}}}
        """
    )
    out = tmp_path / "run"
    process = start(["run", path, "--out", out, "--workers", "2", "--quiet"], tmp_path)

    def games() -> int:
        try:
            with sqlite3.connect(tmp_path / "lb.sqlite") as db:
                return db.execute("SELECT COUNT(*) FROM games").fetchone()[0]
        except sqlite3.Error:
            return 0

    wait_for(lambda: games() >= 20)
    workers = children_of(process.pid)
    assert stop(process) < 5 and process.returncode == 143
    wait_for(lambda: not any(alive(p) for p in workers), seconds=10)
    kept = games()
    assert 20 <= kept < 180
    assert json.loads((out / "result.json").read_text())["status"] == "interrupted"

    resumed = start(["run", path, "--out", out, "--workers", "2", "--quiet", "--resume"], tmp_path)
    assert resumed.wait(timeout=200) == 0, resumed.stderr.read()
    final = json.loads((out / "result.json").read_text())["stages"][0]
    assert final["games_resumed"] == kept and final["games_total"] == 180
    reference = run(
        load_scenario(path), tmp_path / "ref", show=False, db=tmp_path / "ref.sqlite", workers=1
    )
    assert comparable(out / "result.json") == comparable(tmp_path / "ref" / "result.json")
    assert reference.status == "ok"


@pytest.mark.timeout(180)
def test_a_stopped_training_continues_from_its_newest_checkpoint(write_yaml, tmp_path):
    path = write_yaml(
        """
        stages:
          - kind: train
            name: learn
            env: gym/CartPole-v1
            agents: {agent_0: {id: ppo, params: {hidden: [16], rollout_steps: 256}}}
            steps: 20000
            eval_every: 1000
            eval_episodes: 1
          - kind: evaluate
            env: gym/CartPole-v1
            agents: {agent_0: {checkpoint: "@learn/agent_0"}}
            episodes: 2
        """
    )
    out = tmp_path / "run"
    process = start(["run", path, "--out", out, "--quiet"], tmp_path)
    wait_for(lambda: lines(out / "learn" / "curve.csv") >= 4, seconds=120)
    assert stop(process) < 10 and process.returncode == 143
    saved = sorted(p.name for p in (out / "learn" / "checkpoints").iterdir())
    assert saved and all(name.startswith("step-") for name in saved)
    resumed = start(
        ["run", path, "--out", out, "--quiet", "--resume", "--set", "stages.0.steps=8000"],
        tmp_path,
    )
    assert resumed.wait(timeout=150) == 2  # another budget is another scenario
    assert "was of another scenario (it differs at stages.0.steps)" in resumed.stderr.read()
    resumed = start(["run", path, "--out", out, "--quiet", "--resume"], tmp_path)
    assert resumed.wait(timeout=150) == 0, resumed.stderr.read()
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "ok" and result["stages"][0]["steps"] == 20000
    steps = [row["step"] for row in result["stages"][0]["curve"]]
    assert steps == list(range(1000, 20001, 1000))  # each evaluation once, in order
