"""The command line, called in-process: output text and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.cli import main

GOOD = """
kind: evaluate
env: classic/rps_v2
agents:
  "*": random
episodes: 4
"""


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and "testbed 0.1.0" in capsys.readouterr().out


def test_run_ok_and_seed_and_set(write_yaml, tmp_path, capsys):
    path = write_yaml(GOOD)
    assert (
        main(["run", str(path), "--out", str(tmp_path / "a"), "--seed", "5", "--set", "episodes=3"])
        == 0
    )
    data = json.loads((tmp_path / "a" / "result.json").read_text())
    assert data["stages"][0]["episodes"] == 3 and data["stages"][0]["seed"] == 5
    assert "results written to" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("kind: evaluate\nenv: [oops\n", "invalid YAML"),
        (GOOD + "episodez: 3\n", "episodez: unknown field"),
        (GOOD.replace("classic/rps_v2", "classic/rsp_v2"), "did you mean 'classic/rps_v2'"),
        (GOOD.replace("episodes: 4", "episodes: -1"), "episodes: Input should be greater than 0"),
    ],
)
def test_bad_input_is_one_message_and_exit_2(write_yaml, capsys, text, needle):
    path = write_yaml(text)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and str(path) in err and "Traceback" not in err


def test_missing_file_exit_2(capsys):
    assert main(["run", "nope.yaml"]) == 2
    assert "'nope.yaml' not found" in capsys.readouterr().err


def test_validate_reports_every_file(write_yaml, capsys):
    good = write_yaml(GOOD, "good.yaml")
    bad = write_yaml(GOOD + "extra: 1\n", "bad.yaml")
    assert main(["validate", str(good), str(bad)]) == 2
    out = capsys.readouterr().out
    assert "✓" in out and "good.yaml" in out and "✗" in out and "bad.yaml:6: extra" in out
    assert main(["validate", str(good)]) == 0


def test_list_json(capsys):
    assert main(["list", "envs", "--json"]) == 0
    envs = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert envs["mpe/simple_spread_v3"]["kind"] == "cooperative"
    assert envs["classic/chess_v6"]["api"] == "aec"
    assert main(["list", "agents", "--json"]) == 0
    agents = {row["id"] for row in json.loads(capsys.readouterr().out)}
    assert {"random", "scripted/connect_four"} <= agents


def test_list_scenarios_table(capsys, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    assert main(["list", "scenarios"]) == 0
    assert "quickstart" in capsys.readouterr().out


def test_a_crash_is_exit_3(write_yaml, tmp_path, capsys):
    (tmp_path / "bad_agent.py").write_text(
        "class Bad:\n"
        "    def __init__(self, o, a, c): pass\n"
        "    def reset(self, seed=None): pass\n"
        "    def act(self, obs, action_mask=None): raise ValueError('no')\n"
    )
    path = write_yaml(GOOD.replace('"*": random', '"*": bad_agent.py:Bad'))
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 3
    assert "ValueError: no" in capsys.readouterr().err


def test_describe_shows_agents_spaces_and_params(capsys):
    assert main(["describe", "classic/connect_four_v3", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info["agents"]) == {"player_0", "player_1"}
    assert info["agents"]["player_0"]["action"] == "Discrete(7)"
    assert "render_mode" in info["params"] and info["api"] == "aec"
    assert main(["describe", "mpe/simple_sprad"]) == 2
    assert "did you mean 'mpe/simple_spread_v3'" in capsys.readouterr().err


TOURNAMENT = """
name: tiny-ladder
kind: tournament
env: {id: testbed/breakthrough_v0, params: {rows: 4, cols: 4, piece_rows: 1}}
rounds: 2
ratings: {bootstrap: 100}
entrants:
  weak: {id: scripted/breakthrough_search, params: {depth: 0}}
  strong: {id: scripted/breakthrough_search, params: {depth: 2}}
"""


def test_tournament_run_then_leaderboard(write_yaml, tmp_path, capsys):
    db = tmp_path / "lb.sqlite"
    path = write_yaml(TOURNAMENT)
    assert (
        main(["run", str(path), "--out", str(tmp_path / "t"), "--db", str(db), "--workers", "1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "Leaderboard" in out and "Payoff" in out
    assert (tmp_path / "t" / "ratings-tiny-ladder.png").is_file()
    assert "| 1 | strong |" in (tmp_path / "t" / "summary.md").read_text()
    assert main(["leaderboard", "--db", str(db), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["leaderboard"] == "tiny-ladder" and data["games"] == 4
    assert [r["entrant"] for r in data["leaderboard_table"]] == ["strong", "weak"]
    assert main(["leaderboard", "tiny-laddr", "--db", str(db)]) == 2
    assert "did you mean 'tiny-ladder'" in capsys.readouterr().err
    assert main(["leaderboard", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert main(["run", str(path), "--db", str(db), "--resume", "--out", str(tmp_path / "r")]) == 2
    assert "nothing to resume" in capsys.readouterr().err
