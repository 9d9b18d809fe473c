"""Tournaments: schedules, fault isolation, persistence, resume and worker independence."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testbed import load_scenario
from testbed.errors import BadInput
from testbed.rollout.executor import LocalExecutor, ProcessExecutor
from testbed.runner import run
from testbed.tournament.play import GameResult
from testbed.tournament.schedule import make_schedule
from testbed.tournament.stage import run_tournament, to_matches
from testbed.tournament.store import LeaderboardStore

FAULTY = Path(__file__).resolve().parents[1] / "support" / "faulty_agents.py"
REPO = Path(__file__).resolve().parents[2]

LADDER = """
    name: ladder
    seed: 3
    kind: tournament
    env: {id: testbed/breakthrough_v0, params: {rows: 4, cols: 4, piece_rows: 1}}
    rounds: 3
    ratings: {bootstrap: 200}
    entrants:
      depth0: {id: scripted/breakthrough_search, params: {depth: 0}}
      depth1: {id: scripted/breakthrough_search, params: {depth: 1}}
      depth2: {id: scripted/breakthrough_search, params: {depth: 2}}
"""


def test_round_robin_schedule_swaps_seats_on_one_seed(write_yaml) -> None:
    scenario = load_scenario(write_yaml(LADDER))
    games = make_schedule(scenario.stages[0], 2, 3, "s")
    assert len(games) == 3 * 3 * 2  # rounds x pairs x seat orders
    first, second = games[0], games[1]
    assert first.entrants == tuple(reversed(second.entrants))
    assert first.seed == second.seed and first.group == second.group
    assert len({g.seed for g in games}) == 3  # one chance seed per round
    assert [g.index for g in games] == list(range(len(games)))


def test_gauntlet_and_free_for_all_schedules(write_yaml) -> None:
    gauntlet = load_scenario(write_yaml(LADDER + "    format: gauntlet\n    reference: [depth0]\n"))
    games = make_schedule(gauntlet.stages[0], 2, 0, "s")
    assert {frozenset(g.entrants) for g in games} == {
        frozenset({"depth1", "depth0"}),
        frozenset({"depth2", "depth0"}),
    }
    ffa = load_scenario(write_yaml(LADDER + "    format: free_for_all\n"))
    games = make_schedule(ffa.stages[0], 3, 0, "s")
    assert len(games) == 3 * 3  # one group of three, three rotations, three rounds
    assert {g.entrants[0] for g in games[:3]} == {"depth0", "depth1", "depth2"}
    with pytest.raises(BadInput, match="free_for_all"):
        make_schedule(load_scenario(write_yaml(LADDER)).stages[0], 3, 0, "s")


def test_ladder_recovers_order_and_workers_do_not_change_results(write_yaml, tmp_path) -> None:
    scenario = load_scenario(write_yaml(LADDER))
    one = run_tournament(scenario, 0, LocalExecutor(), db=tmp_path / "a.sqlite")
    two = run_tournament(scenario, 0, ProcessExecutor(2), db=tmp_path / "b.sqlite")
    assert [r["entrant"] for r in one["leaderboard_table"]] == ["depth2", "depth1", "depth0"]
    for key in ("leaderboard_table", "cross_play", "elo", "openskill", "bradley_terry"):
        assert one[key] == two[key], key
    strip = [{k: v for k, v in g.items() if k != "seconds"} for g in one["games"]]
    assert strip == [{k: v for k, v in g.items() if k != "seconds"} for g in two["games"]]


def _faulty_scenario(write_yaml, fault: str, timeout: str = "") -> object:
    return load_scenario(
        write_yaml(f"""
        name: faults
        kind: tournament
        env: {{id: testbed/breakthrough_v0, params: {{rows: 4, cols: 4, piece_rows: 1}}}}
        rounds: 2
        {timeout}
        ratings: {{bootstrap: 0}}
        entrants:
          depth0: {{id: scripted/breakthrough_search, params: {{depth: 0}}}}
          depth1: {{id: scripted/breakthrough_search, params: {{depth: 1}}}}
          faulty: {{id: "{FAULTY}:{fault}", params: {{fail_at: 1}}}}
    """)
    )


@pytest.mark.parametrize(
    ("fault", "timeout", "reason"),
    [
        ("Crashing", "", "raised in act: RuntimeError: boom"),
        ("Illegal", "", "masked out"),
        ("Hanging", "move_timeout: 0.2", "exceeded the per-move limit of 0.2 s"),
    ],
)
def test_faulty_entrant_forfeits_and_nothing_else_is_lost(
    write_yaml, tmp_path, fault, timeout, reason
) -> None:
    scenario = _faulty_scenario(write_yaml, fault, timeout)
    result = run_tournament(scenario, 0, LocalExecutor(), db=tmp_path / "lb.sqlite")
    assert result["games_total"] == 2 * 3 * 2
    forfeits = result["forfeits"]
    assert len(forfeits) == 8  # every game of the faulty entrant (it fails at move 2)
    assert all(f["entrant"] == "faulty" and reason in f["reason"] for f in forfeits)
    faulty_row = next(r for r in result["leaderboard_table"] if r["entrant"] == "faulty")
    assert faulty_row["losses"] == faulty_row["forfeits"] == 8
    clean = [g for g in result["games"] if "faulty" not in g["entrants"]]
    assert len(clean) == 4 and all(g["forfeit_entrant"] is None and g["length"] > 0 for g in clean)
    store = LeaderboardStore(tmp_path / "lb.sqlite")
    assert len(store.games(run_id=result["run_id"])) == 12
    store.close()


def test_match_scoring_sums_seat_rotations() -> None:
    def game(index: int, entrants: list[str], scores: list[float]) -> GameResult:
        return GameResult(index, 0, 0, entrants, 1, scores, {}, 5, None, None, 0.0)

    # Predators score 3 for a, 5 for b; prey scores -3 (vs a) and -5 (vs b).
    games = [game(0, ["a", "b"], [3.0, -3.0]), game(1, ["b", "a"], [5.0, -5.0])]
    (match,) = to_matches(games, "match")
    assert match.entrants == ("a", "b") and match.scores == (3.0 - 5.0, -3.0 + 5.0)
    assert len(to_matches(games, "game")) == 2


def test_leaderboard_accumulates_and_refuses_renamed_agents(write_yaml, tmp_path) -> None:
    db = tmp_path / "lb.sqlite"
    scenario = load_scenario(write_yaml(LADDER))
    run_tournament(scenario, 0, LocalExecutor(), db=db)
    run_tournament(scenario, 0, LocalExecutor(), db=db)  # same tournament: replaces
    reseeded = load_scenario(write_yaml(LADDER), ["seed=4"])
    run_tournament(reseeded, 0, LocalExecutor(), db=db)  # another seed: adds
    store = LeaderboardStore(db)
    assert len(store.games(leaderboard="ladder")) == 2 * 18
    assert len(store.runs("ladder")) == 3
    store.close()
    changed = load_scenario(write_yaml(LADDER), ["entrants.depth1.params.depth=3"])
    with pytest.raises(BadInput, match="entrant 'depth1' of leaderboard 'ladder' was"):
        run_tournament(changed, 0, LocalExecutor(), db=db)
    with pytest.raises(BadInput, match="nothing to resume"):
        run_tournament(scenario, 0, LocalExecutor(), db=db, resume=True)


def test_kill_9_then_resume_gives_the_uninterrupted_table(write_yaml, tmp_path) -> None:
    text = LADDER.replace("rounds: 3", "rounds: 8")
    path = write_yaml(text)
    reference = run(
        load_scenario(path), tmp_path / "ref", workers=1, show=False, db=tmp_path / "ref.sqlite"
    ).stages[0]
    db = tmp_path / "lb.sqlite"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "testbed",
        "run",
        str(path),
        "--db",
        str(db),
        "--workers",
        "1",
        "--quiet",
    ]
    process = subprocess.Popen(
        [*command, "--out", str(tmp_path / "killed")], env=env, cwd=tmp_path, start_new_session=True
    )
    deadline = time.time() + 120
    recorded = 0
    while time.time() < deadline and process.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    recorded = con.execute("SELECT COUNT(*) FROM games").fetchone()[0]
            except sqlite3.OperationalError:
                recorded = 0
            if recorded >= 10:
                break
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with sqlite3.connect(db) as con:
        kept = con.execute("SELECT COUNT(*) FROM games").fetchone()[0]
    assert 10 <= kept < 48
    resumed = subprocess.run(
        [*command, "--resume", "--out", str(tmp_path / "resumed")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads((tmp_path / "resumed" / "result.json").read_text())["stages"][0]
    assert final["games_resumed"] == kept
    for key in ("leaderboard_table", "cross_play", "elo", "bradley_terry", "openskill"):
        assert final[key] == json.loads(json.dumps(reference[key])), key
