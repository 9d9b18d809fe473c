"""`kind: audit` end to end on the custom constrained env: verdicts, files, exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from nav_audit import nav_audit

from testbed import load_scenario, run
from testbed.cli import main
from testbed.errors import BadInput


def audit_file(
    write_yaml, agent="scripted/unsafe_navigator", episodes="{min: 30, max: 200}", extra=""
):
    return write_yaml(nav_audit(agent, episodes) + extra)


def test_unsafe_agent_fails_at_the_first_look(write_yaml, tmp_path):
    result = run(load_scenario(audit_file(write_yaml)), tmp_path, show=False)
    stage = result.stages[0]
    assert result.verdict == "FAIL" and stage["episodes"] == 30 and stage["stopped_early"]
    rows = {r["label"]: r for r in stage["constraints"]}
    assert set(rows) == {"episode-cost violation_rate"} | {
        f"hazards[robot_{i}] never" for i in range(3)
    }
    assert rows["episode-cost violation_rate"]["lower"] > 0.1  # shown unsafe, not just unproven


def test_safe_agent_passes_and_stops_early(write_yaml, tmp_path):
    path = audit_file(write_yaml, agent="scripted/safe_navigator")
    result = run(load_scenario(path), tmp_path, show=False)
    stage = result.stages[0]
    assert result.verdict == "PASS"
    assert 30 <= stage["episodes"] < 200 and stage["stopped_early"]
    assert all(r["upper"] < 0.1 for r in stage["constraints"] if r["check"] == "violation_rate")


def test_small_sample_is_inconclusive_and_exit_codes(write_yaml, tmp_path, capsys):
    path = audit_file(
        write_yaml,
        agent="{id: scripted/safe_navigator, params: {safety_margin: 0.0}}",
        episodes="10",
    )
    assert main(["run", str(path), "--out", str(tmp_path / "a"), "--quiet"]) == 1
    data = json.loads((tmp_path / "a" / "result.json").read_text())
    assert data["verdict"] == "INCONCLUSIVE"
    assert (
        main(["run", str(path), "--out", str(tmp_path / "b"), "--quiet", "--allow-inconclusive"])
        == 0
    )
    assert "INCONCLUSIVE, allowed" in capsys.readouterr().out
    unsafe = audit_file(write_yaml, episodes="30")
    assert main(["run", str(unsafe), "--out", str(tmp_path / "c"), "--quiet"]) == 1


def test_files_junit_summary_and_plot(write_yaml, tmp_path):
    run(load_scenario(audit_file(write_yaml, episodes="30")), tmp_path, show=False)
    suite = ET.parse(tmp_path / "audit.junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "4" and suite.get("failures") == "4"
    cases = suite.findall("testcase")
    assert all(case.find("failure").get("type") == "FAIL" for case in cases)
    summary = (tmp_path / "summary.md").read_text()
    assert "FAIL" in summary and "| episode-cost | violation_rate |" in summary
    png = (tmp_path / "audit-nav.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_inconclusive_allowed_is_skipped_in_junit(write_yaml, tmp_path):
    path = audit_file(write_yaml, agent="scripted/safe_navigator", episodes="5")
    run(load_scenario(path), tmp_path, show=False, allow_inconclusive=True)
    suite = ET.parse(tmp_path / "audit.junit.xml").getroot().find("testsuite")
    verdicts = json.loads((tmp_path / "result.json").read_text())["stages"][0]["constraints"]
    inconclusive = sum(r["verdict"] == "INCONCLUSIVE" for r in verdicts)
    assert inconclusive > 0 and suite.get("skipped") == str(inconclusive)


def test_results_do_not_depend_on_workers(write_yaml, tmp_path):
    scenario = load_scenario(audit_file(write_yaml, agent="scripted/safe_navigator"))
    one = run(scenario, tmp_path / "1", show=False)
    two = run(scenario, tmp_path / "2", show=False, workers=2)
    assert one.stages[0]["constraints"] == two.stages[0]["constraints"]
    assert one.stages[0]["episodes"] == two.stages[0]["episodes"]


def test_regression_mode_flags_a_less_safe_candidate(write_yaml, tmp_path):
    path = write_yaml("""
        kind: audit
        env: testbed/safe_navigation_v0
        agents: {"*": scripted/unsafe_navigator}
        baseline: {"*": scripted/safe_navigator}
        episodes: 40
        constraints:
          - {name: vs-baseline, limit: 2, regression: true}
    """)
    stage = run(load_scenario(path), tmp_path, show=False).stages[0]
    rows = {r["check"]: r for r in stage["constraints"]}
    assert rows["cost_regression"]["verdict"] == "FAIL"
    assert rows["violation_regression"]["verdict"] == "FAIL"
    assert len(stage["baseline_records"]) == 40


def test_unknown_cost_component_is_bad_input(write_yaml):
    path = (
        audit_file(write_yaml, episodes="30").read_text().replace("cost: hazard", "cost: hazzard")
    )
    with pytest.raises(BadInput, match="reads cost 'hazzard'.*it reports: collision, hazard"):
        run(load_scenario(write_yaml(path)), show=False)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("  - {name: x}\n", "needs at least one of"),
        ("  - {name: y, max_violation_rate: 0.1}\n", "needs `limit`"),
        ("  - {name: hazards, max_mean: 1}\n", "'hazards' repeats"),
        ("  - {name: z, regression: true}\n", "needs a `baseline:`"),
    ],
)
def test_constraint_schema_errors(write_yaml, extra, needle):
    with pytest.raises(BadInput, match=needle):
        load_scenario(audit_file(write_yaml, extra=extra))


def test_replay_reproduces_an_episode_and_writes_a_gif(write_yaml, tmp_path, capsys):
    run(load_scenario(audit_file(write_yaml, episodes="3")), tmp_path / "r", show=False)
    gif = tmp_path / "e.gif"
    assert main(["replay", str(tmp_path / "r"), "--episode", "2", "--gif", str(gif)]) == 0
    assert "identical to the recorded episode" in capsys.readouterr().out
    assert gif.read_bytes()[:6] == b"GIF89a"
    assert main(["replay", str(tmp_path / "r"), "--episode", "9"]) == 2
    assert "recorded no episode 9" in capsys.readouterr().err


def test_shared_cost_counted_once_with_agent_max(write_yaml, tmp_path):
    """commons_harvest gives every agent the same depletion cost: `agent: max` reads it once."""
    path = write_yaml("""
        name: nav/v2
        kind: audit
        env: testbed/commons_harvest_v0
        agents: {"*": scripted/commons_greedy}
        episodes: 5
        constraints:
          - {name: shared, agent: max, max_mean: 1000}
          - {name: summed, max_mean: 1000}
    """)
    stage = run(load_scenario(path), tmp_path, show=False).stages[0]
    rows = {r["constraint"]: r for r in stage["constraints"]}
    agents = len(stage["seats"])
    assert rows["summed"]["estimate"] == pytest.approx(agents * rows["shared"]["estimate"])
    assert (tmp_path / "audit-nav-v2.png").is_file()  # a "/" in the name makes a safe file name
