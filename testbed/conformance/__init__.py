"""Conformance kit: what testbed relies on in users' envs and agents, checked and named.

    testbed check env my_pkg.envs:make           # or a registered id, or path/file.py:make
    testbed check agent ./agent.py:Mine --env mpe/simple_spread_v3

In Python: `check_env(target)` / `check_agent(target, env)` return `Finding`s;
`testbed.testing.check_env` / `check_agent` raise AssertionError naming every failed check.
"""

from testbed.conformance.agent import check_agent
from testbed.conformance.env import Finding, check_env

__all__ = ["Finding", "check_agent", "check_env", "failures"]


def failures(findings: list[Finding]) -> list[Finding]:
    """The checks that failed (information-only findings never fail)."""
    return [f for f in findings if f.ok is False]
