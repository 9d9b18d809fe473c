"""Tournament benchmark: order recovery, worker independence and speed-up, kill -9 + resume,
fault isolation.

    .venv/bin/python benchmarks/tournament.py [--rounds 2 5 10 25 50] [--workers 2]

1. Entrants of known strength order (Breakthrough negamax, depth 0 < 1 < 2 < 3; see
   benchmarks/search_strength.py) play round-robins of growing length; for each, whether the
   Bradley–Terry order is the true order and whether every pair of neighbours is separated
   by the bootstrap at 95 % (P(better) outside [2.5 %, 97.5 %]). Reports the games needed.
2. The longest round-robin with 1 and with N workers: identical tables, wall-clock speed-up.
3. `testbed run` killed with SIGKILL mid-tournament, then `--resume`: the final table equals
   the uninterrupted run's.
4. A crashing and a hanging entrant (per-move limit 0.5 s) join the ladder: they forfeit with
   reasons, every other game is played and rated as without them.

Writes benchmarks/results/tournament.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import testbed  # noqa: F401  (first: it imports gymnasium before pettingzoo, docs/STACK.md trap 4)
from testbed import load_scenario
from testbed.rollout.executor import LocalExecutor, ProcessExecutor
from testbed.tournament.stage import run_tournament

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "tournament.json"
FAULTY = ROOT / "tests" / "support" / "faulty_agents.py"
TRUE_ORDER = ["depth3", "depth2", "depth1", "depth0"]

LADDER = """
name: ladder-bench
seed: 0
kind: tournament
env: testbed/breakthrough_v0
rounds: {rounds}
entrants:
  depth0: {{id: scripted/breakthrough_search, params: {{depth: 0}}}}
  depth1: {{id: scripted/breakthrough_search, params: {{depth: 1}}}}
  depth2: {{id: scripted/breakthrough_search, params: {{depth: 2}}}}
  depth3: {{id: scripted/breakthrough_search, params: {{depth: 3}}}}
{extra}
"""


def scenario_file(folder: Path, rounds: int, extra: str = "", name: str = "s.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(LADDER.format(rounds=rounds, extra=extra)))
    return path


def table(result: dict[str, Any]) -> list[tuple]:
    return [
        (
            r["entrant"],
            round(r["rating"], 6),
            r["ci_low"],
            r["ci_high"],
            r["wins"],
            r["draws"],
            r["losses"],
        )
        for r in result["leaderboard_table"]
    ]


def recovery(folder: Path, rounds_list: list[int], workers: int) -> list[dict[str, Any]]:
    rows = []
    for rounds in rounds_list:
        scenario = load_scenario(scenario_file(folder, rounds))
        started = time.perf_counter()
        result = run_tournament(
            scenario, 0, ProcessExecutor(workers), db=folder / f"recovery-{rounds}.sqlite"
        )
        bt = result["bradley_terry"]
        order = [r["entrant"] for r in result["leaderboard_table"]]
        rows.append(
            {
                "rounds": rounds,
                "games": result["games_total"],
                "games_per_pairing": 2 * rounds,
                "order": order,
                "order_recovered": order == TRUE_ORDER,
                "neighbours_separated": bt["neighbours_separated"],
                "all_separated": order == TRUE_ORDER and all(bt["neighbours_separated"]),
                "ratings": {
                    r["entrant"]: [round(r["rating"]), round(r["ci_low"]), round(r["ci_high"])]
                    for r in result["leaderboard_table"]
                },
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
        print(
            f"rounds {rounds:>3} ({result['games_total']:>4} games): order {order} "
            f"separated {bt['neighbours_separated']}",
            flush=True,
        )
    return rows


def speedup(folder: Path, rounds: int, workers: int) -> dict[str, Any]:
    scenario = load_scenario(scenario_file(folder, rounds))
    timings, tables = {}, {}
    for n, executor in ((1, LocalExecutor()), (workers, ProcessExecutor(workers))):
        started = time.perf_counter()
        result = run_tournament(scenario, 0, executor, db=folder / f"speed-{n}.sqlite")
        timings[n] = time.perf_counter() - started
        tables[n] = table(result)
    same = tables[1] == tables[workers]
    print(
        f"workers 1: {timings[1]:.1f} s, workers {workers}: {timings[workers]:.1f} s, "
        f"identical: {same}",
        flush=True,
    )
    return {
        "rounds": rounds,
        "games": rounds * 12,
        "seconds_1": round(timings[1], 2),
        f"seconds_{workers}": round(timings[workers], 2),
        "speedup": round(timings[1] / timings[workers], 2),
        "identical": same,
    }


def kill_and_resume(folder: Path, rounds: int) -> dict[str, Any]:
    path = scenario_file(folder, rounds, name="kill.yaml")
    db = folder / "kill.sqlite"
    reference = run_tournament(load_scenario(path), 0, LocalExecutor(), db=folder / "ref.sqlite")
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
        [*command, "--out", str(folder / "killed")], cwd=folder, start_new_session=True
    )
    kept = 0
    while process.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    kept = con.execute("SELECT COUNT(*) FROM games").fetchone()[0]
            except sqlite3.OperationalError:
                kept = 0
            if kept >= rounds * 12 // 2:
                break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with sqlite3.connect(db) as con:
        kept = con.execute("SELECT COUNT(*) FROM games").fetchone()[0]
    done = subprocess.run(
        [*command, "--resume", "--out", str(folder / "resumed")],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    final = json.loads((folder / "resumed" / "result.json").read_text())["stages"][0]
    same = final["leaderboard_table"] == json.loads(json.dumps(reference["leaderboard_table"]))
    print(
        f"killed after {kept} of {final['games_total']} games; resume exit "
        f"{done.returncode}; final table identical: {same}",
        flush=True,
    )
    return {
        "games_total": final["games_total"],
        "games_at_kill": kept,
        "games_resumed": final["games_resumed"],
        "resume_exit": done.returncode,
        "identical_to_uninterrupted": same,
    }


def faults(folder: Path, rounds: int, workers: int) -> dict[str, Any]:
    extra = (
        f'  crasher: {{id: "{FAULTY}:Crashing", params: {{fail_at: 2}}}}\n'
        f'  hanger: {{id: "{FAULTY}:Hanging", params: {{fail_at: 2}}}}\n'
        "move_timeout: 0.5\n"
    )
    path = scenario_file(folder, rounds, extra, name="faults.yaml")
    result = run_tournament(
        load_scenario(path), 0, ProcessExecutor(workers), db=folder / "faults.sqlite"
    )
    clean = load_scenario(scenario_file(folder, rounds, name="clean.yaml"))
    baseline = run_tournament(clean, 0, LocalExecutor(), db=folder / "clean.sqlite")
    unaffected = [
        {k: v for k, v in g.items() if k not in ("seconds", "index", "group")}
        for g in result["games"]
        if not {"crasher", "hanger"} & set(g["entrants"])
    ]
    expected = [
        {k: v for k, v in g.items() if k not in ("seconds", "index", "group")}
        for g in baseline["games"]
    ]
    reasons = sorted({f["entrant"] + ": " + f["reason"] for f in result["forfeits"]})
    print(
        f"{len(result['forfeits'])} forfeits; other games identical to a clean run: "
        f"{unaffected == expected}",
        flush=True,
    )
    return {
        "games": result["games_total"],
        "forfeits": len(result["forfeits"]),
        "forfeits_by": {
            e: sum(f["entrant"] == e for f in result["forfeits"]) for e in ("crasher", "hanger")
        },
        "reasons": reasons[:4],
        "other_games_identical": unaffected == expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, nargs="+", default=[2, 5, 10, 25, 50])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out = {
            "recovery": recovery(folder, args.rounds, args.workers),
            "speedup": speedup(folder, max(args.rounds), args.workers),
            "kill_resume": kill_and_resume(folder, 25),
            "faults": faults(folder, 3, args.workers),
            "cpus": os.cpu_count(),
        }
    needed = next((r for r in out["recovery"] if r["all_separated"]), None)
    out["games_needed"] = (
        None
        if needed is None
        else {
            "rounds": needed["rounds"],
            "games": needed["games"],
            "games_per_pairing": needed["games_per_pairing"],
        }
    )
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["games_needed"]))


if __name__ == "__main__":
    main()
