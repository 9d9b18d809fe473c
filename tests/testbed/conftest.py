"""A finished run shared by the replay and HTML report tests (one tournament worker start,
one sweep, instead of one per test module)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from testbed import load_scenario
from testbed.runner import run

FAULTY = Path(__file__).resolve().parents[1] / "support" / "faulty_agents.py"

SCENARIO = f"""
    name: html-page
    seed: 5
    stages:
      - kind: tournament
        name: ladder
        env: {{id: testbed/breakthrough_v0, params: {{rows: 4, cols: 4, piece_rows: 1}}}}
        rounds: 2
        ratings: {{bootstrap: 50}}
        entrants:
          depth0: {{id: scripted/breakthrough_search, params: {{depth: 0}}}}
          depth1: {{id: scripted/breakthrough_search, params: {{depth: 1}}}}
          depth2: {{id: scripted/breakthrough_search, params: {{depth: 2}}}}
          faulty: {{id: "{FAULTY}:Illegal", params: {{fail_at: 1}}}}
      - kind: audit
        name: nav-audit
        env: testbed/safe_navigation_v0
        agents: {{"*": scripted/safe_navigator}}
        episodes: 10
        constraints:
          - {{name: hazards, cost: hazard, agent: each, never_above: 0.5}}
      - kind: train
        name: train
        env: gym/CartPole-v1
        agents: {{agent_0: ppo}}
        steps: 1000
        eval_every: 500
        eval_episodes: 1
        seeds: 2
"""

# A rating method added to result.json later (as the game-theoretic ratings will be): the
# page must show it by the generic rules, with no code for it.
ADDED = {
    "alpha_rank": {
        "entrants": ["depth2", "depth1", "depth0"],
        "pi": [0.6, 0.3, 0.1],
        "pi_low": [0.5, 0.2, 0.05],
        "pi_high": [0.7, 0.4, 0.2],
        "payoffs": [[0.0, 0.9, 0.8], [0.1, 0.0, 0.6], [0.2, 0.4, 0.0]],
    },
}


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A folder with `run/` (a tournament with a forfeiting entrant, an audit, a two-seed
    sweep; `ADDED` written into the tournament's result) and `lb.sqlite`. Read only."""
    folder = tmp_path_factory.mktemp("finished")
    path = folder / "scenario.yaml"
    path.write_text(textwrap.dedent(SCENARIO), encoding="utf-8")
    run(load_scenario(path), folder / "run", show=False, workers=1, db=folder / "lb.sqlite")
    result_path = folder / "run" / "result.json"
    result = json.loads(result_path.read_text())
    result["stages"][0].update(ADDED)
    result_path.write_text(json.dumps(result))
    return folder
