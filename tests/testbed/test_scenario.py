from __future__ import annotations

import pytest

from testbed import load_scenario
from testbed.errors import BadInput

SPREAD = """
kind: evaluate
env: mpe/simple_spread_v3
agents:
  "*": random
episodes: 7
"""


def error_of(path, *overrides) -> str:
    with pytest.raises(BadInput) as info:
        load_scenario(path, overrides)
    assert info.value.exit_code == 2
    return info.value.render()


def test_single_stage_form_becomes_one_stage(write_yaml):
    scenario = load_scenario(write_yaml(SPREAD, "spread.yaml"))
    assert scenario.name == "spread"
    assert len(scenario.stages) == 1
    stage = scenario.stages[0]
    assert (stage.kind, stage.env.id, stage.episodes) == ("evaluate", "mpe/simple_spread_v3", 7)
    assert stage.agents["*"].id == "random"


def test_multi_stage_form_and_stage_seeds(write_yaml):
    path = write_yaml(
        """
        name: two
        seed: 5
        stages:
          - {kind: evaluate, env: mpe/simple_spread_v3, agents: {"*": random}}
          - {kind: evaluate, env: classic/rps_v2, agents: {"*": random}, seed: 9, name: rps}
        """
    )
    scenario = load_scenario(path)
    assert [scenario.stage_seed(i) for i in range(2)] == [5, 9]
    assert [scenario.stage_name(i) for i in range(2)] == ["two[0]", "rps"]


def test_unknown_key_names_file_line_field_and_suggests(write_yaml):
    path = write_yaml(SPREAD + "episode: 3\n")
    message = error_of(path)
    assert f"{path}:6: episode: unknown field" in message
    assert "did you mean 'episodes'" in message


def test_wrong_type_names_line(write_yaml):
    path = write_yaml(SPREAD.replace("episodes: 7", "episodes: many"))
    message = error_of(path)
    assert f"{path}:5: episodes:" in message and "integer" in message and "'many'" in message


def test_bad_yaml_names_line_and_column(write_yaml):
    path = write_yaml(SPREAD + "agents: [1, 2\n")
    message = error_of(path)
    assert message.startswith(f"{path}:7:") and "invalid YAML" in message


def test_duplicate_key_is_an_error(write_yaml):
    path = write_yaml(SPREAD + "episodes: 8\n")
    assert f"{path}:6: episodes: duplicate key" in error_of(path)


def test_unknown_env_id_did_you_mean(write_yaml):
    path = write_yaml(SPREAD.replace("simple_spread_v3", "simple_sprad_v3"))
    message = error_of(path)
    assert f"{path}:2: env.id: unknown env id 'mpe/simple_sprad_v3'" in message
    assert "did you mean 'mpe/simple_spread_v3'" in message


def test_unknown_agent_id_did_you_mean(write_yaml):
    path = write_yaml(SPREAD.replace('"*": random', '"*": randm'))
    message = error_of(path)
    assert "unknown agent id 'randm'" in message and "did you mean 'random'" in message
    assert f"{path}:4:" in message


def test_agent_params_checked_against_config(write_yaml):
    path = write_yaml(SPREAD.replace('"*": random', '"*": {id: random, params: {seeed: 1}}'))
    message = error_of(path)
    assert "agent 'random' has no parameter 'seeed'" in message and "'seed'" in message
    path = write_yaml(SPREAD.replace('"*": random', '"*": {id: random, params: {seed: x}}'))
    assert "parameter 'seed'" in error_of(path)


def test_env_params_checked_against_factory(write_yaml):
    path = write_yaml(
        SPREAD.replace(
            "env: mpe/simple_spread_v3", "env: {id: mpe/simple_spread_v3, params: {n: 4}}"
        )
    )
    message = error_of(path)
    assert "env.params.n" in message and "has no parameter 'n'" in message
    assert "did you mean 'N'" in message


def test_missing_file():
    with pytest.raises(BadInput, match="not found"):
        load_scenario("no/such/file.yaml")


def test_empty_file_and_non_mapping(write_yaml):
    assert "expected a mapping" in error_of(write_yaml(""))
    assert "expected a mapping" in error_of(write_yaml("- 1\n- 2\n"))


def test_unknown_kind_lists_expected(write_yaml):
    message = error_of(write_yaml(SPREAD.replace("kind: evaluate", "kind: evaluat")))
    assert "kind" in message and "'evaluate'" in message


def test_overrides_set_any_field_with_yaml_types(write_yaml):
    path = write_yaml(SPREAD)
    scenario = load_scenario(
        path, ["episodes=3", "env.params.N=4", "agents.*.params.seed=11", "seed=42"]
    )
    stage = scenario.stages[0]
    assert stage.episodes == 3 and stage.env.params == {"N": 4}
    assert stage.agents["*"].params == {"seed": 11}
    assert scenario.seed == 42


def test_override_errors_name_the_override(write_yaml):
    message = error_of(write_yaml(SPREAD), "episodes=lots")
    assert message.startswith("--set episodes=lots: episodes:")
    assert "expected key=value" in error_of(write_yaml(SPREAD), "episodes")


def test_override_reaches_every_stage_of_a_multi_stage_file(write_yaml):
    path = write_yaml(
        """
        stages:
          - {kind: evaluate, env: mpe/simple_spread_v3, agents: {"*": random}}
          - {kind: evaluate, env: classic/rps_v2, agents: {"*": random}}
        """
    )
    scenario = load_scenario(path, ["episodes=2"])
    assert [s.episodes for s in scenario.stages] == [2, 2]


def test_user_agent_from_file_reference(write_yaml, tmp_path):
    (tmp_path / "my_agent.py").write_text(
        "from testbed.agents.baselines.random import RandomPolicy\n"
        "class Mine(RandomPolicy):\n    pass\n"
    )
    path = write_yaml(SPREAD.replace('"*": random', '"*": my_agent.py:Mine'))
    assert load_scenario(path).stages[0].agents["*"].id == "my_agent.py:Mine"
    path = write_yaml(SPREAD.replace('"*": random', '"*": my_agent.py:Yours'))
    message = error_of(path)
    assert "has no attribute 'Yours'" in message
    path = write_yaml(SPREAD.replace('"*": random', '"*": nothere.py:Mine'))
    assert "not found" in error_of(path)


def test_module_reference(write_yaml):
    path = write_yaml(
        SPREAD.replace('"*": random', '"*": testbed.agents.baselines.random:RandomPolicy')
    )
    load_scenario(path)
    path = write_yaml(SPREAD.replace('"*": random', '"*": no_such_module_xyz:Thing'))
    assert "cannot import module 'no_such_module_xyz'" in error_of(path)
