"""Tournament games are recorded (seed, actions, record) and replayed from the record alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from gymnasium import spaces

from testbed.cli import main
from testbed.rollout.recorded import RecordedTeam, ReplayDiverged, decode_action, encode_action


@pytest.fixture()
def ladder_run(finished_run) -> tuple[Path, list[dict]]:
    """The shared run's folder and its tournament's games (tests/testbed/conftest.py)."""
    folder = finished_run / "run"
    return folder, json.loads((folder / "result.json").read_text())["stages"][0]["games"]


def game_lines(run_dir: Path) -> list[dict]:
    lines = (run_dir / "episodes.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if json.loads(line).get("subject") == "game"]


def test_every_game_is_logged_with_its_seed_and_actions(ladder_run):
    folder, games = ladder_run
    lines = game_lines(folder)
    assert [line["episode"] for line in lines] == [g["index"] for g in games]
    played = 0
    for line, game in zip(lines, games, strict=True):
        assert line["seed"] == game["seed"] and line["entrants"] == game["entrants"]
        if game["forfeit_entrant"]:
            assert line["forfeit_reason"] == game["forfeit_reason"] and line["actions"]
            continue
        played += 1
        assert len(line["actions"]) == line["length"] == game["length"] > 0
        movers = [next(iter(step)) for step in line["actions"]]
        assert movers[:2] == ["player_0", "player_1"]  # turn-based: one mover per step
        assert {a: r["return"] for a, r in line["agents"].items()} == game["returns"]
        assert "actions" not in game  # result.json lists games without their actions
    assert played == 12


def test_replay_of_a_game_matches_and_writes_gif_and_mp4(ladder_run, tmp_path, capsys):
    shutil.copytree(ladder_run[0], tmp_path / "r")
    gif, mp4 = tmp_path / "g.gif", tmp_path / "g.mp4"
    assert main(["replay", str(tmp_path / "r"), "--game", "1", "--gif", str(gif)]) == 0
    out = capsys.readouterr().out
    assert "identical to the recorded game" in out and "depth1 vs depth0" in out
    assert gif.read_bytes()[:6] == b"GIF89a"
    assert main(["replay", str(tmp_path / "r"), "--game", "0", "--mp4", str(mp4)]) == 0
    length = game_lines(tmp_path / "r")[0]["length"]
    assert imageio_ffmpeg.count_frames_and_secs(str(mp4))[0] == length
    reader = imageio_ffmpeg.read_frames(str(mp4))
    meta = next(reader)
    first = np.frombuffer(next(reader), np.uint8)
    assert meta["codec"] == "h264" and meta["size"][1] % 16 == 0 and first.std() > 0
    reader.close()
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "r"), "--game", "97"]) == 2
    assert "recorded no game 97 (it has games 0..23)" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "r"), "--game", "0", "--mp4", str(tmp_path / "x")]) == 2
    with pytest.raises(SystemExit):  # argparse: --game and --episode exclude each other
        main(["replay", str(tmp_path / "r"), "--game", "0", "--episode", "0"])


def test_a_tampered_record_is_caught(ladder_run, tmp_path, capsys):
    """The replay is checked: a recorded return that the actions do not give fails (exit 3)."""
    shutil.copytree(ladder_run[0], tmp_path / "r")
    log = tmp_path / "r" / "episodes.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    lines[0]["agents"]["player_0"]["return"] += 2.0
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["replay", str(tmp_path / "r"), "--game", "0"]) == 3
    assert "differs from the recorded episode" in capsys.readouterr().out


def test_a_forfeited_game_replays_up_to_the_fault(ladder_run, capsys):
    folder, games = ladder_run
    lost = [g["index"] for g in games if g["forfeit_entrant"] == "faulty"]
    assert len(lost) == 12
    assert main(["replay", str(folder), "--stage", "ladder", "--game", str(lost[0])]) == 0
    out = capsys.readouterr().out
    assert "replayed up to the forfeit" in out and "masked out" in out


def test_actions_round_trip_exactly_through_json():
    box = spaces.Box(-1, 1, (3,), np.float32)
    for action in (np.int64(4), 3, np.array([0.1, -0.7, 1 / 3], np.float32), np.array([1, 2])):
        back = decode_action(json.loads(json.dumps(encode_action(action))))
        assert np.array_equal(back, action) and np.asarray(back).dtype == np.asarray(action).dtype
    assert box.contains(decode_action(encode_action(box.sample())))
    team = RecordedTeam([{"a": 1}, {"b": 2}])
    assert team.act({"a": None}, {}) == {"a": 1}
    with pytest.raises(ReplayDiverged, match="the env asks"):
        team.act({"a": None}, {})
