"""The audit scenario several tests run: safe_navigation, a 10% violation-rate limit on team
cost above 2 and "never" a hazard step, for any agent and episode budget."""

from __future__ import annotations

NAV_AUDIT = """
name: nav
seed: 7
kind: audit
env: testbed/safe_navigation_v0
agents:
  "*": {agent}
episodes: {episodes}
constraints:
  - name: episode-cost
    limit: 2
    max_violation_rate: 0.1
  - name: hazards
    cost: hazard
    agent: each
    never_above: 0.5
"""


def nav_audit(agent: str = "scripted/safe_navigator", episodes: str = "{min: 30, max: 200}") -> str:
    """The scenario's text for `agent` and `episodes` (a count or "{min: .., max: ..}")."""
    return NAV_AUDIT.format(agent=agent, episodes=episodes)
