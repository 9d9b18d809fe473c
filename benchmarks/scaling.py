"""How runs scale: 1 and 2 local workers, and a simulated 3-node Ray cluster.

    .venv/bin/python benchmarks/scaling.py [--repeats 3]

1. Local: the README's tournament (scenarios/tournament.yaml, 300 games) and a 1,000-episode
   evaluation (scripted spread team on MPE) with `--workers 1` and `--workers 2`, run side by
   side `repeats` times through `testbed.run` (worker start-up included), with identical
   results checked; speed-up = median time 1 / median time 2 (worker start-up included).
   Then the same work on a warm pool (what every stage after a run's first gets: the workers
   started and holding the env and agents), side by side with one worker in this process.
2. Overheads per task: a task that does nothing, 4,000 times, in this process, in 2 local
   workers, and on Ray (a local cluster) with single-task chunks and with chunks; and the
   driver's cost per tournament game (writing it to SQLite).
3. Ray: the tournament on a `ray.cluster_utils.Cluster` of 3 one-CPU worker nodes (on this
   2-core machine: the scheduling works, the speed is capped by the 2 cores).

Writes benchmarks/results/scaling.json; docs/SCALING.md reads its numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import testbed  # noqa: F401  (first: gymnasium before pettingzoo, docs/STACK.md trap 4)
from testbed import load_scenario, run
from testbed.rollout.executor import LocalExecutor, ProcessExecutor
from testbed.rollout.ray_executor import RayExecutor, connect, shutdown
from testbed.tournament.store import LeaderboardStore

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scaling.json"
EVALUATION = """
name: thousand-episodes
seed: 0
kind: evaluate
env: mpe/simple_spread_v3
agents: {"*": scripted/spread_nearest}
episodes: 1000
"""


class Nothing:
    """A task runner whose tasks do nothing: what remains is the executor's own cost."""

    def run(self, k: int) -> int:
        return k

    def close(self) -> None:
        return None


def stripped(value: Any) -> Any:
    timing = {"wall_time_s", "episodes_per_s", "games_seconds", "seconds", "db", "run_id"}
    if isinstance(value, dict):
        return {k: stripped(v) for k, v in value.items() if k not in timing}
    if isinstance(value, list):
        return [stripped(v) for v in value]
    return value


def timed_run(path: Path, folder: Path, workers: int, **options: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run(load_scenario(path), folder, show=False, workers=workers, **options)
    return time.perf_counter() - started, [stripped(s.to_dict()) for s in result.stages]


def side_by_side(path: Path, folder: Path, repeats: int, db: bool) -> dict[str, Any]:
    """Alternate 1 and 2 workers `repeats` times; the medians, their ratio, identity."""
    times: dict[int, list[float]] = {1: [], 2: []}
    tables: dict[int, Any] = {}
    for k in range(repeats):
        for workers in (1, 2):
            extra = {"db": folder / f"lb-{k}-{workers}.sqlite"} if db else {}
            seconds, tables[workers] = timed_run(path, folder / f"r{k}-{workers}", workers, **extra)
            times[workers].append(seconds)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    return {
        "seconds_1": [round(t, 2) for t in times[1]],
        "seconds_2": [round(t, 2) for t in times[2]],
        "speedup": round(one / two, 2),
        "identical": tables[1] == tables[2],
    }


def warm_pool(tournament: Path, evaluation: Path, folder: Path, repeats: int) -> dict[str, Any]:
    """One pool of 2 workers kept across calls (as a run keeps it across stages) against one
    worker in this process: the first (cold) call, then `repeats` calls side by side."""
    from testbed.evaluate.stage import run_evaluate
    from testbed.tournament.stage import run_tournament

    games, episodes = load_scenario(tournament), load_scenario(evaluation)
    jobs = {
        "tournament_300_games": lambda ex, k: run_tournament(games, 0, ex, db=folder / f"{k}.db"),
        "evaluation_1000_episodes": lambda ex, k: run_evaluate(episodes, 0, ex),
    }
    found: dict[str, Any] = {}
    for name, job in jobs.items():
        local, pool = LocalExecutor(), ProcessExecutor(2)
        started = time.perf_counter()
        job(pool, f"{name}-cold")
        cold = time.perf_counter() - started
        one, two = [], []
        for k in range(repeats):
            for executor, times in ((local, one), (pool, two)):
                started = time.perf_counter()
                job(executor, f"{name}-{len(times)}-{k}-{id(executor)}")
                times.append(time.perf_counter() - started)
        pool.close()
        found[name] = {
            "cold_seconds_2": round(cold, 2),
            "seconds_1": [round(t, 2) for t in one],
            "warm_seconds_2": [round(t, 2) for t in two],
            "warm_speedup": round(statistics.median(one) / statistics.median(two), 2),
        }
    return found


def per_task(executor: Any, count: int) -> float:
    """Milliseconds per do-nothing task (after the runner is built)."""
    list(executor.imap_tasks(Nothing, (), [(0,)] * 8))  # start workers / connect
    started = time.perf_counter()
    done = sum(1 for _ in executor.imap_tasks(Nothing, (), [(k,) for k in range(count)]))
    assert done == count
    return (time.perf_counter() - started) / count * 1000


def driver_cost_per_game(folder: Path, games: int = 2000) -> float:
    """Milliseconds the driver spends recording one game in SQLite (a commit each)."""
    from testbed.tournament.play import GameResult

    store = LeaderboardStore(folder / "driver.sqlite")
    run_id = store.begin_run(leaderboard="x", scenario="x", stage="x", fingerprint="x",
                             env="x", scoring="win_loss", games_total=games)  # fmt: skip
    game = GameResult(index=0, round=0, group=0, entrants=["a", "b"], seed=1, scores=[1.0, 0.0],
                      returns={"a": 1.0, "b": -1.0}, length=40, forfeit_entrant=None,
                      forfeit_reason=None, seconds=0.01)  # fmt: skip
    started = time.perf_counter()
    for k in range(games):
        store.record(run_id, "x", dataclasses.replace(game, index=k))
    store.close()
    return (time.perf_counter() - started) / games * 1000


def ray_cluster_tournament(path: Path, folder: Path) -> dict[str, Any]:
    import ray
    from ray.cluster_utils import Cluster

    from testbed.tournament.stage import run_tournament

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(3):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
        scenario = load_scenario(path)
        started = time.perf_counter()
        result = run_tournament(scenario, 0, RayExecutor(workers=3), db=folder / "ray.sqlite")
        seconds = time.perf_counter() - started
        nodes = len([n for n in ray.nodes() if n["Alive"]])
    finally:
        ray.shutdown()
        cluster.shutdown()
    reference = run_tournament(load_scenario(path), 0, LocalExecutor(), db=folder / "ref.sqlite")
    return {
        "nodes": nodes,
        "seconds": round(seconds, 2),
        "games": result.games_total,
        "identical_to_local": stripped(result.to_dict()) == stripped(reference.to_dict()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=4000)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    folder = Path(tempfile.mkdtemp(prefix="scaling-"))
    evaluation = folder / "evaluation.yaml"
    evaluation.write_text(EVALUATION)
    tournament = ROOT / "scenarios" / "tournament.yaml"
    load = os.getloadavg()
    data: dict[str, Any] = {"cpus": os.cpu_count(), "load_average_before": load}
    data["tournament_300_games"] = side_by_side(tournament, folder / "t", args.repeats, db=True)
    print("tournament", data["tournament_300_games"], flush=True)
    data["evaluation_1000_episodes"] = side_by_side(evaluation, folder / "e", args.repeats, False)
    print("evaluation", data["evaluation_1000_episodes"], flush=True)
    data["warm_pool"] = warm_pool(tournament, evaluation, folder, args.repeats)
    print("warm pool", data["warm_pool"], flush=True)
    overhead: dict[str, float] = {}
    overhead["in_process_ms"] = per_task(LocalExecutor(), args.tasks)
    pool = ProcessExecutor(2)
    overhead["two_workers_ms"] = per_task(pool, args.tasks)
    pool.close()
    connect(None, 2)
    overhead["ray_chunked_ms"] = per_task(RayExecutor(workers=2), args.tasks)
    single = RayExecutor(workers=2)
    single_count = max(200, args.tasks // 10)  # a task per chunk: slow, so fewer
    overhead["ray_single_task_chunks_ms"] = _ray_single(single, single_count)
    shutdown()
    overhead["driver_sqlite_per_game_ms"] = driver_cost_per_game(folder)
    data["overhead_per_task"] = {k: round(v, 3) for k, v in overhead.items()}
    print("overhead", data["overhead_per_task"], flush=True)
    data["ray_3_node_cluster"] = ray_cluster_tournament(tournament, folder)
    print("ray cluster", data["ray_3_node_cluster"], flush=True)
    data["load_average_after"] = os.getloadavg()
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")


def _ray_single(executor: RayExecutor, count: int) -> float:
    """Per-task cost when every task is its own Ray task (what chunking saves): a generator
    has no length hint, so RayExecutor sends one task per chunk."""
    started = time.perf_counter()
    done = sum(1 for _ in executor.imap_tasks(Nothing, (), ((k,) for k in range(count))))
    assert done == count
    return (time.perf_counter() - started) / count * 1000


if __name__ == "__main__":
    sys.exit(main())
