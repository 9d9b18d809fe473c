"""Self-play: the snapshot pool, seats, frozen opponents, snapshots on disk, the leaderboard
tournament in SQLite, the `self_play:` options and their errors."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from testbed import load_scenario
from testbed.errors import BadInput
from testbed.registry import make_env
from testbed.tournament.store import LeaderboardStore
from testbed.train.selfplay import SelfPlay, SnapshotPool
from testbed.train.selfplay_stage import run_self_play

SMALL = {"rows": 4, "cols": 3, "piece_rows": 1}


class Versioned:
    """A learner whose weights are a version number (its update count); it plays a random
    legal move and logs the version it had whenever it moved."""

    def __init__(self) -> None:
        self.version = 0
        self.played_with: list[int] = []
        self.transitions: list[dict[str, Any]] = []

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, observation: Any, action_mask: Any = None) -> Any:
        return np.int64(np.flatnonzero(action_mask)[0])

    def explore(self, observation: Any, action_mask: Any = None) -> Any:
        self.played_with.append(self.version)
        return np.int64(self.rng.choice(np.flatnonzero(action_mask)))

    def observe(self, transition: dict[str, Any]) -> None:
        self.transitions.append(transition)

    def update(self) -> dict[str, float]:
        self.version += 1
        return {"version": float(self.version)}

    def state_dict(self) -> dict[str, Any]:
        return {"version": self.version}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.version = state["version"]


def test_pool_draws_newest_with_latest_prob_else_older_uniformly() -> None:
    pool = SnapshotPool(size=3, latest_prob=0.6)
    weights = {"w": torch.zeros(2)}
    for step in (0, 10, 20, 30):
        pool.add(step, weights)
        weights["w"] += 1.0  # later training does not reach a frozen snapshot
    assert pool.steps == [10, 20, 30]  # the oldest left the pool
    assert pool.entries[0][1]["w"].tolist() == [1.0, 1.0]

    def draws(seed: int) -> list[int]:
        rng = np.random.default_rng(seed)
        return [pool.draw(rng)[0] for _ in range(4000)]

    assert draws(1) == draws(1) and draws(1) != draws(2)
    counts = Counter(draws(1))
    assert abs(counts[30] / 4000 - 0.6) < 0.03
    assert abs(counts[10] / 4000 - 0.2) < 0.03 and abs(counts[20] / 4000 - 0.2) < 0.03
    with pytest.raises(ValueError, match="latest_prob"):
        SnapshotPool(2, 1.5)


def test_seats_alternate_snapshots_are_frozen_and_the_learner_learns_only_its_seat() -> None:
    env = make_env("testbed/breakthrough_v0", **SMALL)
    learner = Versioned()
    engine = SelfPlay(env, learner, snapshot_every=20, pool_size=2, latest_prob=0.5)
    snapshots: dict[int, int] = {}
    episodes = []
    state = engine.run(
        100,
        seed=0,
        on_snapshot=lambda step, agent: snapshots.update({step: agent.version}),
        on_episode=lambda e, s: episodes.append(e),
    )
    assert state.step == 100 and list(snapshots) == [0, 20, 40, 60, 80, 100]
    assert engine.pool.steps == [80, 100]
    assert [e.learner_seat for e in episodes] == ["player_0", "player_1"] * (len(episodes) // 2) + [
        "player_0"
    ] * (len(episodes) % 2)
    # The opponent only ever played with a snapshot's weights, and never learned.
    opponent = engine.opponent.shell
    assert set(opponent.played_with) <= set(snapshots.values())
    assert not opponent.transitions
    assert {e.opponent_step for e in episodes} <= set(snapshots)
    assert sum(engine.faced.values()) == len(episodes)
    # The learner learned from its own moves only: one transition per move of its seat.
    own_moves = len(learner.played_with)
    finished = sum(t["terminated"] for t in learner.transitions)
    assert finished == len(episodes)
    assert own_moves - len(learner.transitions) in (0, 1)  # the abandoned last move
    assert all(t["reward"] in (-1.0, 0.0, 1.0) for t in learner.transitions)
    assert [e.learner_return for e in episodes] == [
        t["reward"] for t in learner.transitions if t["terminated"]
    ]


def test_self_play_is_reproducible() -> None:
    def run() -> tuple[list[int], list[str]]:
        env = make_env("testbed/breakthrough_v0", **SMALL)
        learner = Versioned()
        episodes = []
        engine = SelfPlay(env, learner, snapshot_every=15, pool_size=3, latest_prob=0.3)
        engine.run(90, seed=7, on_episode=lambda e, s: episodes.append(e))
        return [e.opponent_step for e in episodes], [str(e.returns) for e in episodes]

    assert run() == run()


def test_self_play_needs_a_two_player_turn_based_env_and_a_learner() -> None:
    with pytest.raises(ValueError, match="two-player turn-based"):
        SelfPlay(make_env("gym/CartPole-v1"), Versioned(), snapshot_every=10)
    env = make_env("testbed/breakthrough_v0", **SMALL)
    with pytest.raises(ValueError, match="needs a learner"):
        SelfPlay(env, object(), snapshot_every=10)


SCENARIO = """
    name: sp-test
    description: tiny self-play run
    seed: 3
    kind: train
    env: {{id: testbed/breakthrough_v0, params: {{rows: 4, cols: 3, piece_rows: 1}}}}
    agents:
      "*": {{id: ppo, params: {{rollout_steps: 64, minibatch_size: 32, epochs: 2}}}}
    steps: 240
    eval_every: 120
    eval_episodes: 4
    self_play:
      snapshot_every: 80
      pool_size: 2
      latest_prob: 0.5
      rounds: 1
      leaderboard: {board}
      db: lb.sqlite
      entrants:
        random: random
        depth1: {{id: scripted/breakthrough_search, params: {{depth: 1}}}}
"""


def test_run_self_play_saves_snapshots_that_enter_the_leaderboard(write_yaml, tmp_path) -> None:
    scenario = load_scenario(write_yaml(SCENARIO.format(board="sp-board")))
    result = run_self_play(scenario, 0, tmp_path / "run")
    assert result["kind"] == "train" and result["steps"] == 240
    assert [row["step"] for row in result["curve"]] == [120, 240]
    assert all(-1.0 <= row["eval_return"] <= 1.0 for row in result["curve"])
    folder = tmp_path / "run" / "sp-test"
    snapshot_dirs = sorted(p.name for p in (folder / "snapshots").iterdir())
    assert snapshot_dirs == ["step-0", "step-160", "step-240", "step-80"]
    config = json.loads((folder / "snapshots" / "step-80" / "config.json").read_text())
    assert config["agent"] == "ppo" and config["step"] == 80 and config["snapshot"]
    final = result["checkpoints"]
    assert set(final) == {"player_0", "player_1"}
    final_weights = torch.load(Path(final["player_0"]) / "weights.pt", weights_only=True)
    assert _same_actor(final_weights, _weights(folder / "snapshots" / "step-240"))
    assert not _same_actor(final_weights, _weights(folder / "snapshots" / "step-0"))
    # The leaderboard: a real tournament stored in the SQLite file next to the scenario.
    board = result["self_play"]["leaderboard"]
    names = ["run/step-0", "run/step-80", "run/step-160", "run/step-240", "random", "depth1"]
    assert board["leaderboard"] == "sp-board" and Path(board["db"]) == tmp_path / "lb.sqlite"
    assert board["games_total"] == 6 * 5 // 2 * 2  # pairs x seat orders (1 round)
    assert sorted(r["entrant"] for r in board["leaderboard_table"]) == sorted(names)
    assert all(r["rating"] is not None for r in board["leaderboard_table"])
    store = LeaderboardStore(tmp_path / "lb.sqlite")
    try:
        assert store.entrant_names("sp-board") == names
        assert len(store.games(leaderboard="sp-board")) == board["games_total"]
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "lb.sqlite") as con:
        (spec,) = con.execute(
            "SELECT spec FROM entrants WHERE name = 'run/step-80' AND leaderboard = 'sp-board'"
        ).fetchone()
    assert json.loads(spec)["checkpoint"] == str(folder / "snapshots" / "step-80")
    assert (folder / "leaderboard.yaml").is_file()
    assert (folder / "leaderboard" / "result.json").is_file()
    # Another run adds its own snapshots to the same leaderboard; the fixed entrants stay.
    again = run_self_play(scenario, 0, tmp_path / "run2")
    assert again["curve"] == [
        dict(row, seconds=other["seconds"])
        for row, other in zip(result["curve"], again["curve"], strict=True)
    ]  # same seed, same curve
    store = LeaderboardStore(tmp_path / "lb.sqlite")
    try:
        assert store.entrant_names("sp-board") == names + [f"run2/{n[4:]}" for n in names[:4]]
    finally:
        store.close()


def _weights(folder: Path) -> dict[str, Any]:
    return torch.load(folder / "weights.pt", weights_only=True)


def _same_actor(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(torch.equal(a["actor"][k], b["actor"][k]) for k in a["actor"])


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("latest_prob: 0.5", "latest_prob: 1.5", r"self_play.latest_prob: .*less than or equal"),
        ("snapshot_every: 80", "snapshot_every: 0", r"self_play.snapshot_every: .*greater than"),
        ("eval_every: 120", "eval_every: 120\nresume_from: x", "`resume_from` does not work"),
        ('"*": {{id: ppo', 'player_1: random\n  "*": {{id: ppo', "self-play trains one learner"),
        ("pool_size: 2", "pool_size: 2\n  poolsize: 3", "self_play.poolsize: unknown field"),
    ],
)
def test_bad_self_play_options_are_clear_errors(write_yaml, old, new, message) -> None:
    text = SCENARIO.replace("\n    ", "\n")
    assert old in text
    path = write_yaml(text.replace(old, new).format(board="b"))
    with pytest.raises(BadInput, match=message) as info:
        load_scenario(path)
    assert "scenario.yaml:" in str(info.value)


def test_self_play_run_time_errors(write_yaml, tmp_path) -> None:
    text = SCENARIO.replace("\n    ", "\n").format(board="b")
    not_learning = load_scenario(
        write_yaml(
            text.replace(
                "{id: ppo, params: {rollout_steps: 64, minibatch_size: 32, epochs: 2}}", "random"
            )
        )
    )
    with pytest.raises(BadInput, match="does not learn"):
        run_self_play(not_learning, 0, tmp_path / "a")
    parallel = text.replace(
        "{id: testbed/breakthrough_v0, params: {rows: 4, cols: 3, piece_rows: 1}}", "classic/rps_v2"
    )
    with pytest.raises(BadInput, match="two-player turn-based"):
        run_self_play(load_scenario(write_yaml(parallel)), 0, tmp_path / "b")
    with pytest.raises(BadInput, match="depht") as info:  # refused when the file loads
        load_scenario(write_yaml(text.replace("{depth: 1}", "{depht: 1}")))
    assert "self_play.entrants.depth1" in str(info.value) and "scenario.yaml:" in str(info.value)
    typo = load_scenario(write_yaml(text.replace("{depth: 1}", "{depht: 1}")), check_refs=False)
    with pytest.raises(BadInput, match="depht"):  # and again before training, if unchecked
        run_self_play(typo, 0, tmp_path / "c")
    assert not (tmp_path / "c" / "sp-test" / "snapshots").exists()
    with pytest.raises(BadInput, match="needs a run folder"):
        run_self_play(load_scenario(write_yaml(text)), 0, None)
