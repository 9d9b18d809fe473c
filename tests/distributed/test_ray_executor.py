"""The Ray executor on a real cluster on loopback: the same numbers, leaderboard rows and
forfeits as the local executors; a lost node changes nothing; a wrong address is bad input."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from pathlib import Path

import pytest
from processes import FAULTY, start, wait_for
from ray_cluster import ENV, alive, processes_of, start_head, stop

from testbed import load_scenario, run
from testbed.errors import BadInput
from testbed.rollout.executor import LocalExecutor
from testbed.rollout.ray_executor import RayExecutor
from testbed.rollout.reaper import MARKER
from testbed.tournament.stage import run_tournament

TIMING = {"wall_time_s", "episodes_per_s", "games_seconds", "seconds", "db", "run_id"}

pytestmark = pytest.mark.timeout(300)
QUICK = [*(f"stages.{k}.episodes=12" for k in range(3)), "stages.3.episodes.min=12",
         "stages.3.episodes.max=40"]  # fmt: skip


@pytest.fixture(scope="module")
def cluster():
    address, temp = start_head(cpus=2)
    try:
        yield address, temp
    finally:
        stop(temp)


@pytest.fixture(autouse=True)
def _no_token(monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", ENV["RAY_AUTH_MODE"])


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def stages(result) -> list:
    return [without_timing(stage.to_dict()) for stage in result.stages]


def test_evaluate_and_audit_on_ray_equal_the_local_run(cluster, tmp_path):
    scenario = load_scenario("scenarios/quickstart.yaml", QUICK)
    local = run(scenario, tmp_path / "local", show=False, workers=2)
    remote = run(scenario, tmp_path / "ray", show=False, executor="ray", address=cluster[0])
    assert stages(remote) == stages(local)
    assert [s.kind for s in remote.stages] == ["evaluate", "evaluate", "evaluate", "audit"]
    assert (tmp_path / "ray" / "episodes.jsonl").read_text().count("\n") == len(
        (tmp_path / "local" / "episodes.jsonl").read_text().splitlines()
    )


def leaderboard_rows(db) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT game_index, entrants, seed, scores, returns, length, forfeit_entrant "
            "FROM games ORDER BY game_index"
        ).fetchall()


def test_a_tournament_on_ray_writes_the_same_games_and_ratings(cluster, tmp_path):
    scenario = load_scenario("scenarios/tournament.yaml", ["rounds=2"])
    local = run(scenario, tmp_path / "local", show=False, workers=1, db=tmp_path / "a.sqlite")
    remote = run(
        scenario, tmp_path / "ray", show=False, executor="ray", address=cluster[0],
        db=tmp_path / "b.sqlite",
    )  # fmt: skip
    assert stages(remote) == stages(local)
    assert leaderboard_rows(tmp_path / "b.sqlite") == leaderboard_rows(tmp_path / "a.sqlite")


def test_the_executor_field_of_a_scenario_chooses_ray(cluster, write_yaml, tmp_path):
    path = write_yaml(
        f"""
        executor: {{type: ray, address: "{cluster[0]}"}}
        kind: evaluate
        env: mpe/simple_spread_v3
        agents: {{"*": random}}
        episodes: 4
        """
    )
    result = run(load_scenario(path), tmp_path / "run", show=False)
    reference = run(load_scenario(path), tmp_path / "local", show=False, executor="local")
    assert stages(result) == stages(reference)
    assert result.scenario_data["executor"] == {"type": "ray", "address": cluster[0], "retries": 3}


def test_a_closed_address_is_bad_input_at_once(tmp_path):
    scenario = load_scenario("scenarios/quickstart.yaml", QUICK)
    with pytest.raises(BadInput, match="cannot connect to the Ray cluster at '127.0.0.1:9'"):
        run(scenario, tmp_path / "run", show=False, executor="ray", address="127.0.0.1:9")


def test_a_stopped_cluster_leaves_no_process_behind():
    address, temp = start_head(cpus=1)
    pids = processes_of(temp)
    assert len(pids) >= 3  # gcs_server, raylet and their agents
    stop(temp)
    assert not [pid for pid in pids if alive(pid)]


def test_losing_a_node_mid_tournament_changes_no_game(tmp_path):
    import ray
    from ray.cluster_utils import Cluster

    scenario = load_scenario("scenarios/tournament.yaml", ["rounds=4"])
    reference = run_tournament(scenario, 0, LocalExecutor(), db=tmp_path / "a.sqlite")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    lost: list[int] = []

    def on_game(result, done, total) -> None:
        if done >= 8 and not lost:
            cluster.remove_node(nodes[0], allow_graceful=False)
            lost.append(done)

    try:
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
        survived = run_tournament(
            scenario, 0, RayExecutor(workers=2), db=tmp_path / "b.sqlite", on_game=on_game
        )
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert lost and lost[0] < survived.games_total
    assert without_timing(survived.to_dict()) == without_timing(reference.to_dict())
    assert leaderboard_rows(tmp_path / "b.sqlite") == leaderboard_rows(tmp_path / "a.sqlite")


def marked_processes() -> list[int]:
    """Processes of a local cluster a testbed run started (they carry the reaper's mark)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and MARKER.encode() in (entry / "environ").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            pass
    return [pid for pid in pids if alive(pid)]


def test_a_killed_driver_leaves_no_cluster_behind_and_resumes(write_yaml, tmp_path):
    path = write_yaml(
        f"""
        kind: tournament
        env: testbed/breakthrough_v0
        rounds: 40
        db: {tmp_path / "lb.sqlite"}
        entrants:
          depth0: {{id: scripted/breakthrough_search, params: {{depth: 0}}}}
          depth1: {{id: scripted/breakthrough_search, params: {{depth: 1}}}}
          depth2: {{id: scripted/breakthrough_search, params: {{depth: 2}}}}
        """
    )
    out = tmp_path / "run"
    args = ["run", path, "--out", out, "--executor", "ray", "--quiet"]
    process = start(args, tmp_path)

    def games() -> int:
        try:
            with sqlite3.connect(tmp_path / "lb.sqlite") as db:
                return db.execute("SELECT COUNT(*) FROM games").fetchone()[0]
        except sqlite3.Error:
            return 0

    wait_for(lambda: games() >= 10, seconds=120)
    assert marked_processes()
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    wait_for(lambda: not marked_processes(), seconds=30)
    kept = games()
    assert 10 <= kept < 240
    resumed = start([*args, "--resume"], tmp_path)
    assert resumed.wait(timeout=240) == 0, resumed.stderr.read()
    final = json.loads((out / "result.json").read_text())["stages"][0]
    assert final["games_resumed"] == kept and final["games_total"] == 240
    reference = run(load_scenario(path), tmp_path / "ref", show=False, db=tmp_path / "r.sqlite")
    same = {k: v for k, v in without_timing(final).items() if k != "games_resumed"}
    assert same == {k: v for k, v in stages(reference)[0].items() if k != "games_resumed"}
    assert not marked_processes()


def test_a_sweep_on_ray_equals_its_seeds_run_one_by_one(cluster, write_yaml, tmp_path):
    text = """
        name: sweep
        kind: train
        env: gym/CartPole-v1
        agents: {"*": reinforce}
        steps: 300
        eval_every: 150
        eval_episodes: 2
        """
    path = write_yaml(text + "seeds: 3\n")
    swept = run(load_scenario(path), tmp_path / "ray", show=False, executor="ray",
                address=cluster[0]).stages[0]  # fmt: skip
    assert swept.sweep["seeds"] == [0, 1, 2]
    for seed, kept in zip((0, 1, 2), swept.sweep["runs"], strict=True):
        alone = run(
            load_scenario(write_yaml(text, "alone.yaml"), [f"seed={seed}"]),
            tmp_path / f"alone-{seed}",
            show=False,
        ).stages[0]
        folder = tmp_path / "ray" / "sweep" / f"seed-{seed}"
        result = json.loads((folder / "result.json").read_text())
        assert without_timing(result["curve"]) == without_timing(alone.curve)
        assert kept["eval_return"] == alone.final_eval["eval_return"]


def test_an_entrant_that_kills_its_process_on_ray_forfeits_as_locally(
    cluster, write_yaml, tmp_path
):
    text = f"""
        executor: {{type: ray, address: "{cluster[0]}", retries: 1}}
        kind: tournament
        env: testbed/breakthrough_v0
        rounds: 1
        move_timeout: 1
        db: {tmp_path / "lb.sqlite"}
        entrants:
          depth0: {{id: scripted/breakthrough_search, params: {{depth: 0}}}}
          faulty: {{id: "{FAULTY}:KillsItself", params: {{fail_at: 2}}}}
        """
    scenario = load_scenario(write_yaml(text))
    local = run(scenario, tmp_path / "local", show=False, workers=2, db=tmp_path / "a.sqlite",
                executor="local")  # fmt: skip
    remote = run(scenario, tmp_path / "ray", show=False, db=tmp_path / "b.sqlite").stages[0]
    assert [f["entrant"] for f in remote.forfeits] == ["faulty", "faulty"]
    assert all("killed by signal 9" in f["reason"] for f in remote.forfeits), remote.forfeits
    assert [g["scores"] for g in remote.games] == [g["scores"] for g in local.stages[0].games]


def test_a_local_ray_run_starts_its_own_cluster_beside_another_one(tmp_path, monkeypatch):
    """Without an address the run starts a cluster of its own, even when the machine runs
    another one that `ray.init()` would find (and then refuse our CPU count for)."""
    import re
    import subprocess
    import tempfile

    from ray_cluster import RAY

    base = tempfile.mkdtemp(prefix="tbray", dir="/tmp")  # Ray looks in $RAY_TMPDIR/ray
    temp = f"{base}/ray"
    started = subprocess.run(
        [RAY, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", "0",
         "--num-cpus", "1", "--include-dashboard", "false", "--disable-usage-stats",
         "--temp-dir", temp],
        env=ENV, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    try:
        assert started.returncode == 0 and re.search(r"ray start --address", started.stdout)
        monkeypatch.setenv("RAY_TMPDIR", base)
        scenario = load_scenario("scenarios/quickstart.yaml", QUICK)
        result = run(scenario, tmp_path / "run", show=False, executor="ray")
        assert result.status == "ok"
    finally:
        stop(temp)
