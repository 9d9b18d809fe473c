"""The pytest plugin (`pytest --testbed FILES`), run by pytester in a fresh folder: audits as
items (PASS, FAIL, INCONCLUSIVE under both options), `expect:` blocks of evaluate and
tournament stages, the cache of unchanged scenarios, bad files, and `testbed.testing`."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from nav_audit import nav_audit

from testbed import testing

pytest_plugins = ["pytester"]


EVALUATE = """
name: eval
seed: 3
stages:
  - kind: evaluate
    env: testbed/safe_navigation_v0
    agents: {{"*": scripted/safe_navigator}}
    episodes: 20
    expect: {{team.cost: "<= 0.5", team.return: "{claim}"}}
"""

TOURNAMENT = """
name: league
seed: 1
stages:
  - kind: tournament
    env: classic/connect_four_v3
    entrants:
      random: {{id: random}}
      tactic: {{id: scripted/connect_four}}
    rounds: 6
    db: league.sqlite
    expect: {{rank: {{random: "{claim}"}}}}
"""


def audit(agent: str = "scripted/safe_navigator", episodes: str = "{min: 30, max: 200}") -> str:
    return nav_audit(agent, episodes)


def test_the_plugin_is_installed_and_off_unless_asked(pytester):
    assert "testbed" in [e.name for e in entry_points(group="pytest11")]
    pytester.makefile(".yaml", safe=audit())
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)  # the scenario is not collected without --testbed


def test_a_passing_and_a_failing_audit(pytester):
    pytester.makefile(".yaml", safe=audit(), unsafe=audit("scripted/unsafe_navigator"))
    result = pytester.runpytest("--testbed", "safe.yaml", "unsafe.yaml", "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*unsafe.yaml::nav::episode-cost*",
            "*episode-cost violation_rate: FAIL*confidence sequence*",
            "*worst episodes: #*",
            "*testbed: 2 scenario(s) run, 0 from the cache*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(("option", "outcome"), [("fail", "failed"), ("xfail", "xfailed")])
def test_an_inconclusive_audit_fails_or_xfails(pytester, option, outcome):
    pytester.makefile(".yaml", few=audit(episodes="5"))
    result = pytester.runpytest("--testbed", "few.yaml", f"--testbed-inconclusive={option}")
    counts = result.parseoutcomes()
    assert counts.get(outcome) == 1 and counts.get("passed") == 1  # hazards: never seen
    if option == "fail":
        result.stdout.fnmatch_lines(["*INCONCLUSIVE (use --testbed-inconclusive=xfail*"])


def test_an_unchanged_scenario_comes_from_the_cache(pytester):
    pytester.makefile(".yaml", safe=audit())
    first = pytester.runpytest("--testbed", "safe.yaml")
    first.stdout.fnmatch_lines(["*1 scenario(s) run, 0 from the cache*"])
    again = pytester.runpytest("--testbed", "safe.yaml")
    again.assert_outcomes(passed=2)
    again.stdout.fnmatch_lines(["*0 scenario(s) run, 1 from the cache*"])
    pytester.makefile(".yaml", safe=audit(episodes="{min: 30, max: 300}"))  # changed: runs
    changed = pytester.runpytest("--testbed", "safe.yaml")
    changed.stdout.fnmatch_lines(["*1 scenario(s) run, 0 from the cache*"])
    forced = pytester.runpytest("--testbed", "safe.yaml", "--testbed-rerun")
    forced.stdout.fnmatch_lines(["*1 scenario(s) run, 0 from the cache*"])


def test_scenarios_from_the_ini_file_next_to_the_tests(pytester):
    pytester.makefile(".yaml", safe=audit())
    pytester.makeini("[pytest]\ntestbed_scenarios = *.yaml\n")
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)


def test_evaluate_expectations(pytester):
    pytester.makefile(".yaml", good=EVALUATE.format(claim=">= -100"))
    pytester.makefile(".yaml", bad=EVALUATE.format(claim=">= 100"))
    result = pytester.runpytest("--testbed", "good.yaml", "bad.yaml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*team.return: mean*expected >= 100 -> not shown*"])


def test_tournament_rank_expectations(pytester):
    # in a subprocess: tournament games run in worker processes, which pytester's in-process
    # runs (with their swapped module tables) cannot start
    pytester.makefile(".yaml", league=TOURNAMENT.format(claim=">= 2"))
    result = pytester.runpytest_subprocess("--testbed", "league.yaml")
    result.assert_outcomes(passed=1)
    pytester.makefile(".yaml", league=TOURNAMENT.format(claim="<= 1"))
    result = pytester.runpytest_subprocess("--testbed", "league.yaml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*random: rank 2*expected rank <= 1 -> not shown*"])


def test_bad_files_are_collection_errors_with_their_place(pytester):
    pytester.makefile(".yaml", broken=audit().replace("max_violation_rate: 0.1", "max_rate: 2"))
    result = pytester.runpytest("--testbed", "broken.yaml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*bad scenario:*broken.yaml:*max_rate*"])
    assert "Traceback" not in result.stdout.str()
    missing = pytester.runpytest("--testbed", "nowhere.yaml")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["*no such scenario file*nowhere.yaml*"])


def test_a_bad_expectation_is_bad_input(write_yaml):
    from testbed import load_scenario
    from testbed.errors import BadInput

    with pytest.raises(BadInput, match="expected a comparison"):
        load_scenario(write_yaml(EVALUATE.format(claim="at least -30")))


def test_testing_helpers(write_yaml, tmp_path):
    result = testing.run_scenario(write_yaml(audit()), tmp_path / "run")
    testing.assert_audit_passes(result)
    unsafe = testing.run_scenario(
        write_yaml(audit("scripted/unsafe_navigator"), "u.yaml"), tmp_path / "u"
    )
    with pytest.raises(AssertionError, match="episode-cost: FAIL"):
        testing.assert_audit_passes(unsafe)


def test_xdist_runs_each_file_once_on_one_worker(pytester):
    pytester.makefile(".yaml", safe=audit(), unsafe=audit("scripted/unsafe_navigator"))
    args = ("--testbed", "safe.yaml", "unsafe.yaml", "-n", "2", "--dist", "loadfile")
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=2, failed=2)
    runs = sorted((pytester.path / ".pytest_cache" / "d" / "testbed-runs").iterdir())
    assert len(runs) == 2  # one run per file (loadfile: its items on one worker)
    written = [(run / "result.json").stat().st_mtime_ns for run in runs]
    again = pytester.runpytest_subprocess(*args)  # the workers' results were cached
    again.assert_outcomes(passed=2, failed=2)
    assert [(run / "result.json").stat().st_mtime_ns for run in runs] == written


def test_testbed_files_and_test_paths_together(pytester):
    pytester.makefile(".yaml", safe=audit())
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest("--testbed", "safe.yaml", "test_plain.py")
    result.assert_outcomes(passed=3)
    pytester.makeini("[pytest]\ntestbed_scenarios = *.yaml\n")
    only = pytester.runpytest("test_plain.py")  # paths given: the ini's scenarios stay out
    only.assert_outcomes(passed=1)


AGENT = """
class Mine:
    def __init__(self, observation_space, action_space, config=None):
        self.space = action_space

    def reset(self, seed=None):
        pass

    def act(self, observation, action_mask=None):
        {body}
"""


def test_changed_agent_code_is_audited_again(pytester):
    pytester.makefile(".yaml", mine=audit("mine.py:Mine"))
    pytester.makepyfile(mine=AGENT.format(body="return self.space.low * 0"))
    first = pytester.runpytest("--testbed", "mine.yaml")
    first.stdout.fnmatch_lines(["*1 scenario(s) run*"])
    pytester.makepyfile(mine=AGENT.format(body="raise RuntimeError('broken on purpose')"))
    again = pytester.runpytest("--testbed", "mine.yaml")
    again.assert_outcomes(failed=2)  # the code changed: run again, and it fails
    again.stdout.fnmatch_lines(
        ["*the scenario did not run: *broken on purpose*", "*1 scenario(s) run, 0 from the cache*"]
    )
    assert "Traceback" not in again.stdout.str()


def test_an_expectation_naming_no_metric_fails_cleanly(pytester):
    pytester.makefile(
        ".yaml", typo=EVALUATE.format(claim=">= -100").replace("team.cost", "team.cots")
    )
    result = pytester.runpytest("--testbed", "typo.yaml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*'team.cots' is not a metric of this stage*"])


def test_the_testbed_fixture(pytester):
    pytester.makefile(".yaml", safe=audit(), unsafe=audit("scripted/unsafe_navigator"))
    pytester.makepyfile(
        test_mine="""
import pytest

def test_safe(testbed):
    testbed.assert_audit_passes(testbed.run("safe.yaml", "episodes.max=100"))

def test_unsafe(testbed):
    with pytest.raises(AssertionError, match="episode-cost: FAIL"):
        testbed.assert_audit_passes(testbed.run("unsafe.yaml"))

def test_kit(testbed):
    testbed.check_agent("random", "classic/connect_four_v3", steps=20)
"""
    )
    pytester.runpytest().assert_outcomes(passed=3)
