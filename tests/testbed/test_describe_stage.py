"""`kind: describe`: a stage kind added as one module and one table entry (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import json

from testbed import load_scenario, run


def test_describe_records_the_env_and_each_seat(write_yaml, tmp_path):
    path = write_yaml(
        """
        name: setup
        stages:
          - kind: describe
            env: {id: mpe/simple_spread_v3, params: {N: 4}, costs: {bump: {type: collision}}}
            agents: {"*": {id: random, params: {seed: 3}}}
          - kind: evaluate
            env: {id: mpe/simple_spread_v3, params: {N: 4}}
            agents: {"*": random}
            episodes: 2
        """
    )
    result = run(load_scenario(path), tmp_path / "run", show=False)
    described = result.stages[0]
    assert described.kind == "describe" and described.api == "parallel"
    assert described.params["N"] == 4 and described.params["max_cycles"] == 25  # a default
    assert list(described.agents) == [f"agent_{i}" for i in range(4)]
    assert described.agents["agent_0"]["action"] == "Discrete(5)"
    assert described.agents["agent_3"]["policy"] == "random"
    assert described.agents["agent_3"]["config"] == {"seed": 3}
    assert "bump" in described.costs
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["stages"][0]["agents"]["agent_1"]["observation"].startswith("Box(")
    summary = (tmp_path / "run" / "summary.md").read_text()
    assert "## describe `setup[0]` on `mpe/simple_spread_v3`" in summary


def test_describe_validates_like_any_stage(write_yaml):
    import pytest

    from testbed.errors import BadInput

    path = write_yaml("kind: describe\nenv: mpe/simple_spread_v3\nagent: {'*': random}\n")
    with pytest.raises(BadInput, match="agent: unknown field") as caught:
        load_scenario(path)
    assert "did you mean 'agents'?" in caught.value.render()
