"""Entrants and agents that crash hard, exit, hog memory or hang past every timer: the
tournament goes on with a recorded forfeit, an evaluation fails clearly (exit 3) naming the
episode, and no process is left behind."""

from __future__ import annotations

import signal
import sqlite3

import pytest
from processes import FAULTY, alive, children_of, lines, start, wait_for, workers_of

from testbed import load_scenario, run
from testbed.errors import RunFailed
from testbed.rollout.executor import ProcessExecutor

LADDER = """
kind: tournament
env: testbed/breakthrough_v0
rounds: 1
move_timeout: 1
db: {db}
entrants:
  depth0: {{id: scripted/breakthrough_search, params: {{depth: 0}}}}
  {name}: {{id: "{faulty}:{cls}", params: {{fail_at: 2}}}}
"""


def faulty_ladder(write_yaml, tmp_path, cls: str, name: str = "faulty"):
    text = LADDER.format(db=tmp_path / "lb.sqlite", name=name, faulty=FAULTY, cls=cls)
    if cls == "Hungry":  # only the memory limit stops it, not the move timer
        text = text.replace("move_timeout: 1\n", "")
    return load_scenario(write_yaml(text))


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("cls", "reason"),
    [
        ("KillsItself", "the worker process was killed by signal 9 (SIGKILL), during player_"),
        ("Exits", "called sys.exit(0) in act"),
        ("Hungry", "over the memory limit of 600 MB"),
        ("Stuck", "unresponsive: a call ran"),
    ],
)
@pytest.mark.parametrize("workers", [1, 2])
def test_an_entrant_that_dies_hard_forfeits_and_the_tournament_goes_on(
    write_yaml, tmp_path, cls, reason, workers
):
    scenario = faulty_ladder(write_yaml, tmp_path, cls)
    result = run(scenario, tmp_path / "run", show=False, workers=workers, memory_limit_mb=600)
    stage = result.stages[0]
    assert result.status == "ok" and stage.games_total == 2 and len(stage.games) == 2
    assert [f["entrant"] for f in stage.forfeits] == ["faulty", "faulty"]
    assert all(reason in f["reason"] for f in stage.forfeits), stage.forfeits
    with sqlite3.connect(tmp_path / "lb.sqlite") as db:
        recorded = db.execute("SELECT COUNT(*), COUNT(forfeit_entrant) FROM games").fetchone()
    assert recorded == (2, 2)  # forfeits are games: --resume does not play them again


@pytest.mark.timeout(120)
def test_an_evaluation_whose_worker_dies_fails_naming_the_episode(write_yaml, tmp_path):
    path = write_yaml(
        f"""
        kind: evaluate
        env: testbed/breakthrough_v0
        agents:
          player_0: {{id: "{FAULTY}:KillsItself", params: {{fail_at: 2}}}}
          player_1: random
        episodes: 6
        """
    )
    with pytest.raises(RunFailed, match=r"episode \d \(seed \d+\) of stage .* killed by signal 9"):
        run(load_scenario(path), tmp_path / "run", show=False, workers=2)
    assert '"status": "failed"' in (tmp_path / "run" / "result.json").read_text()


@pytest.mark.timeout(60)
def test_the_pool_leaves_no_worker_behind():
    import os

    outcomes = ProcessExecutor(2).imap_tasks(_Echo, (), [(k,) for k in range(6)])
    assert sorted(r for _, r in outcomes) == list(range(6))
    assert [p for p in workers_of(os.getpid()) if alive(p)] == []


class _Echo:
    def run(self, value: int) -> int:
        return value

    def close(self) -> None:
        return None


@pytest.mark.timeout(120)
def test_kill_9_of_the_run_leaves_no_worker(write_yaml, tmp_path):
    path = write_yaml(
        f"""
        kind: tournament
        env: testbed/breakthrough_v0
        rounds: 500
        db: {tmp_path / "lb.sqlite"}
        entrants:
          depth1: {{id: scripted/breakthrough_search, params: {{depth: 1}}}}
          depth2: {{id: scripted/breakthrough_search, params: {{depth: 2}}}}
        """
    )
    process = start(["run", path, "--out", tmp_path / "run", "--workers", "2", "--quiet"], tmp_path)
    wait_for(lambda: len(workers_of(process.pid)) >= 2)
    wait_for(lambda: (tmp_path / "lb.sqlite").exists())
    children = [p for p in children_of(process.pid) if alive(p)]  # workers, resource tracker
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    wait_for(lambda: not any(alive(p) for p in children), seconds=10)
    assert lines(tmp_path / "run" / "episodes.jsonl") == 0  # a tournament logs games, not episodes
