"""The conformance kit (`testbed check env|agent`, `testbed.conformance`, `testbed.testing`):
broken envs get their failures named, sound envs and agents pass; every registered env runs
the kit in tests/envs/test_registered_envs.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed import testing
from testbed.cli import main
from testbed.conformance import check_agent, check_env, failures

BROKEN = str(Path(__file__).resolve().parents[1] / "support" / "broken_envs.py")


def test_a_sound_env_passes_every_check():
    findings = check_env(f"{BROKEN}:fine")
    assert not failures(findings)
    assert {f.check for f in findings} >= {
        "build", "pettingzoo api", "seed determinism", "cost convention", "fixed spaces",
        "render modes", "speed",
    }  # fmt: skip


def test_a_missing_cost_key_is_named():
    failed = failures(check_env(f"{BROKEN}:no_cost"))
    assert [f.check for f in failed] == ["cost convention"]
    assert "agent 'a': info has no 'cost'" in failed[0].message


def test_a_seed_that_diverges_at_step_50_is_named():
    failed = failures(check_env(f"{BROKEN}:diverges_at_50", steps=120))
    assert [f.check for f in failed] == ["seed determinism"]
    assert "first differ at step 50 (observations)" in failed[0].message
    assert not failures(check_env(f"{BROKEN}:diverges_at_50", steps=40))  # not reached


def test_the_cli_reports_and_exits(capsys):
    assert main(["check", "env", f"{BROKEN}:no_cost"]) == 1
    out = capsys.readouterr().out
    assert "failed: cost convention" in out and "Traceback" not in out
    assert main(["check", "env", "mpe/simple_spread_v3", "--steps", "30"]) == 0
    assert "everything testbed relies on holds" in capsys.readouterr().out
    assert main(["check", "env", "nope/x"]) == 2
    assert main(["check", "agent", "random"]) == 2  # needs --env
    assert "needs --env" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("agent", "env"),
    [
        ("random", "classic/connect_four_v3"),  # masks
        ("dqn", "classic/connect_four_v3"),  # weights: checkpoint round trip
        ("ppo", "mpe/simple_spread_v3"),
        ("scripted/safe_navigator", "testbed/safe_navigation_v0"),
    ],
)
def test_agents_pass(agent, env):
    findings = check_agent(agent, env, steps=60)
    assert not failures(findings), failures(findings)
    checkpoint = next(f for f in findings if f.check == "checkpoint")
    assert checkpoint.ok is (None if agent in ("random", "scripted/safe_navigator") else True)


def test_an_agent_that_ignores_masks_is_named(tmp_path):
    path = tmp_path / "agent.py"
    path.write_text(
        "class IgnoresMasks:\n"
        "    def __init__(self, observation_space, action_space, config=None):\n"
        "        pass\n"
        "    def reset(self, seed=None):\n"
        "        pass\n"
        "    def act(self, observation, action_mask=None):\n"
        "        return 0\n"
    )
    failed = failures(check_agent(f"{path}:IgnoresMasks", "classic/connect_four_v3", steps=80))
    assert [f.check for f in failed] == ["actions"]
    assert "which its action mask forbids" in failed[0].message


def test_testing_helpers_raise_naming_the_checks():
    testing.check_env(f"{BROKEN}:fine")
    with pytest.raises(AssertionError, match="cost convention: agent 'a'"):
        testing.check_env(f"{BROKEN}:no_cost")
    testing.check_agent("random", "classic/connect_four_v3", steps=30)


def test_the_field_that_differs_is_named_and_a_reset_without_agents_ends():
    failed = failures(check_env(f"{BROKEN}:unseeded_reset", steps=20))
    assert [f.message for f in failed] == [
        "two runs with seed 7 first differ at a reset (observations)"
    ]
    failed = failures(check_env(f"{BROKEN}:no_agents_after_reset", steps=20))  # no hang
    assert [f.check for f in failed] == ["seed determinism"]
    assert "left no agent to step" in failed[0].message


def test_an_agent_that_raises_is_a_finding_not_a_traceback(tmp_path, capsys):
    path = tmp_path / "agent.py"
    path.write_text(
        "class Raises:\n"
        "    def __init__(self, observation_space, action_space, config=None):\n"
        "        pass\n"
        "    def reset(self, seed=None):\n"
        "        pass\n"
        "    def act(self, observation, action_mask=None):\n"
        "        raise RuntimeError('no move')\n"
    )
    assert main(["check", "agent", f"{path}:Raises", "--env", "mpe/simple_spread_v3"]) == 1
    out = capsys.readouterr().out
    assert "RuntimeError: no move" in out and "Traceback" not in out
