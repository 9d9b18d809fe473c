"""Hostile and careless inputs end in one clear message (file, line, field) and exit 2, in
bounded time, never a traceback or a hang; `validate` catches what `run` would reject."""

from __future__ import annotations

import json

import pytest

from testbed import load_scenario
from testbed.errors import BadInput
from testbed.registry.checkpoint import save_checkpoint

HEAD = 'kind: evaluate\nenv: mpe/simple_spread_v3\nagents: {"*": random}\n'


def alias_bomb(levels: int = 12) -> str:
    """A few hundred bytes that expand to 9**12 values when aliases are followed."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return HEAD + "extra:\n" + "\n".join("  " + line for line in lines) + "\n"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_an_alias_bomb_is_refused_at_once(cli, write_yaml, tmp_path, command):
    path = write_yaml(alias_bomb())
    assert len(path.read_bytes()) < 1000
    args = [command, path] + (["--out", tmp_path / "out"] if command == "run" else [])
    result = cli(*args)
    assert result.code == 2 and result.seconds < 10
    assert "expands to more than 100000 values" in result.text
    assert "Traceback" not in result.text


@pytest.mark.timeout(30)
def test_deep_nesting_is_bad_input_not_a_recursion_error(cli, write_yaml):
    path = write_yaml(HEAD + "x: " + "[" * 5000 + "]" * 5000 + "\n")
    result = cli("validate", path)
    assert result.code == 2 and "nested more than 100 levels" in result.text
    assert "RecursionError" not in result.text


@pytest.mark.parametrize(
    ("field", "needle"),
    [
        ("episodes: true", "episodes: Input should be a valid integer (got True)"),
        ("episodes: 2.5", "episodes: Input should be a valid integer (got 2.5)"),
        ("seed: false", "seed: Input should be a valid integer (got False)"),
        ("max_steps: '9'", "max_steps: Input should be a valid integer (got '9')"),
    ],
)
def test_booleans_and_text_are_not_counts(cli, write_yaml, field, needle):
    result = cli("validate", write_yaml(HEAD + field + "\n"))
    assert result.code == 2 and needle in result.text


def test_agent_parameters_are_not_booleans_either(cli, write_yaml):
    text = HEAD.replace('{"*": random}', '{"*": {id: ppo, params: {rollout_steps: true}}}')
    result = cli("validate", write_yaml(text))
    assert result.code == 2
    assert "agents.*.params.rollout_steps: agent 'ppo' parameter 'rollout_steps'" in result.text
    # YAML reads 3e-4 as text; it is a number to the agent, as to PyTorch users
    fine = HEAD.replace('{"*": random}', '{"*": {id: ppo, params: {learning_rate: 3e-4}}}')
    assert cli("validate", write_yaml(fine, "fine.yaml")).code == 0


def test_every_error_of_a_file_is_shown_at_once(cli, write_yaml):
    text = (
        "stages:\n"
        "  - {kind: evaluate, env: mpe/simple_spread_v3, agents: {'*': random}, episodes: 0}\n"
        "  - {kind: audit, env: mpe/simple_spread_v3, agents: {'*': random},\n"
        "     confidence: true, constraints: [{name: c, max_mean: 1}], episode: 3}\n"
        "  - {kind: evalute, env: mpe/simple_spread_v3}\n"
    )
    result = cli("validate", write_yaml(text))
    assert result.code == 2
    assert "scenario.yaml:2: stages.0.episodes: Input should be greater than 0" in result.text
    assert "scenario.yaml:4: stages.1.confidence: Input should be a valid number" in result.text
    assert "scenario.yaml:4: stages.1.episode: unknown field" in result.text
    assert "did you mean 'episodes'?" in result.text
    assert "scenario.yaml:5: stages.2.kind: unknown kind 'evalute'" in result.text
    assert "(and" not in result.text


@pytest.mark.timeout(60)
def test_a_huge_episode_count_starts_at_once(tmp_path):
    from testbed.seeding import EpisodeSeeds, episode_seeds

    seeds = EpisodeSeeds(7, 10**12, "s")
    assert len(seeds) == 10**12 and seeds[5] == episode_seeds(7, 6, "s")[5]
    assert seeds[10**12 - 1] == EpisodeSeeds(7, 10**12, "s")[-1]
    # and a run with that count plays its first episodes at once (stopped by signal in
    # tests/reliability/test_signals.py)


def test_a_module_that_exits_at_import_is_bad_input(cli, write_yaml, tmp_path):
    (tmp_path / "leaver.py").write_text("import sys\nsys.exit(0)\nclass A: ...\n")
    path = write_yaml(HEAD.replace("random", "./leaver.py:A"))
    for args in (["validate", path], ["run", path, "--out", tmp_path / "out"]):
        result = cli(*args)
        assert result.code == 2, args
        assert "importing" in result.text and "called sys.exit(0)" in result.text


@pytest.mark.parametrize(
    ("params", "key", "message"),
    [
        ("{N: three}", "N", "unable to parse string as an integer (got 'three')"),
        ("{N: -3}", "N", "Input should be greater than or equal to 1 (got -3)"),
        ("{max_cycles: 0}", "max_cycles", "Input should be greater than or equal to 1 (got 0)"),
        ("{N: true}", "N", "Input should be a valid integer (got True)"),
        ("{local_ratio: 2}", "local_ratio", "Input should be less than or equal to 1 (got 2)"),
    ],
)
def test_validate_checks_env_parameter_values_where_they_are_written(
    cli, write_yaml, params, key, message
):
    text = "kind: evaluate\nagents: {'*': random}\n"
    text += f"env: {{id: mpe/simple_spread_v3, params: {params}}}\n"
    result = cli("validate", write_yaml(text))
    assert result.code == 2
    assert (
        f"scenario.yaml:3: env.params.{key}: env 'mpe/simple_spread_v3' parameter " in result.text
    )
    assert message in result.text


def test_validate_builds_stages_as_run_would(cli, write_yaml, tmp_path):
    ffa = "kind: tournament\nenv: mpe/simple_spread_v3\nformat: free_for_all\n"
    ffa += "entrants: {a: random, b: noop}\n"
    result = cli("validate", write_yaml(ffa, "ffa.yaml"))
    assert result.code == 2
    assert "ffa.yaml:4: entrants: free-for-all on 3 sides needs at least 3 entrants" in result.text

    from gymnasium import spaces

    folder = tmp_path / "ck"
    learner = _Weights()
    save_checkpoint(
        folder, learner, agent_id="random", params={},
        observation_space=spaces.Discrete(4), action_space=spaces.Discrete(3),
    )  # fmt: skip
    misfit = HEAD.replace('{"*": random}', f'{{"*": {{checkpoint: "{folder}"}}}}')
    result = cli("validate", write_yaml(misfit, "misfit.yaml"))
    assert result.code == 2 and "was trained with observation space Discrete(4)" in result.text


class _Weights:
    def state_dict(self) -> dict:
        return {}


def test_set_errors_name_the_set_not_the_file(cli, write_yaml, tmp_path):
    path = write_yaml("stages:\n" + "\n".join(
        "  - {kind: evaluate, env: classic/rps_v2, agents: {'*': random}, episodes: 2}"
        for _ in range(2)
    ) + "\n")  # fmt: skip
    result = cli("run", path, "--set", "stages.99.episodes=3", "--out", tmp_path / "a")
    assert result.code == 2 and "--set stages.99.episodes=3: stages has items 0 to 1" in result.text
    result = cli("run", path, "--set", "agents={'*': {id: rando}}", "--out", tmp_path / "b")
    assert result.code == 2
    assert "--set agents={'*': {id: rando}}: stages.0.agents.*.id: unknown agent id" in result.text
    assert "scenario.yaml" not in result.text.split("unknown agent id")[0]
    result = cli("run", path, "--set", "steps=6000", "--out", tmp_path / "c")
    assert result.code == 2 and "--set steps=6000: no stage has a field 'steps'" in result.text


def test_set_applies_to_the_stages_that_have_the_field(write_yaml):
    path = write_yaml(
        "stages:\n"
        "  - {kind: describe, env: classic/rps_v2}\n"
        "  - {kind: evaluate, env: classic/rps_v2, agents: {'*': random}}\n"
    )
    scenario = load_scenario(path, ["episodes=7"])
    assert scenario.stages[1].episodes == 7


def test_a_folder_is_not_a_scenario_file(cli, tmp_path):
    (tmp_path / "a.yaml").write_text(HEAD)
    result = cli("run", tmp_path)
    assert result.code == 2 and "is a folder, not a scenario file" in result.text
    assert "a.yaml" in result.text


@pytest.mark.parametrize("where", ["file", "proc"])
def test_an_unwritable_out_is_bad_input(cli, write_yaml, tmp_path, where):
    (tmp_path / "plain").write_text("")
    out = tmp_path / "plain" / "run" if where == "file" else "/proc/testbed-run"
    result = cli("run", write_yaml(HEAD), "--out", out)
    assert result.code == 2
    assert f"cannot write the run folder '{out}'" in result.text
    assert "internal error" not in result.text


def test_an_out_holding_a_run_is_refused_without_resume(cli, write_yaml, tmp_path):
    path = write_yaml(HEAD.replace("simple_spread_v3", "simple_push_v3") + "episodes: 2\n")
    assert cli("run", path, "--out", tmp_path / "r").code == 0
    before = (tmp_path / "r" / "result.json").read_text()
    result = cli("run", path, "--out", tmp_path / "r")
    assert result.code == 2 and "--resume continues it" in result.text
    assert (tmp_path / "r" / "result.json").read_text() == before  # untouched
    assert json.loads(before)["status"] == "ok"
    with pytest.raises(BadInput, match="finished; there is nothing to resume"):
        from testbed import run

        run(load_scenario(path), tmp_path / "r", show=False, resume=True)


def test_an_env_that_fails_a_bare_assert_is_named_with_its_line(cli, write_yaml):
    from processes import SUPPORT

    path = write_yaml(
        f"""
        kind: evaluate
        env: "{SUPPORT / "broken_envs.py"}:asserts_on_build"
        agents: {{"*": random}}
        episodes: 1
        """
    )
    outcome = cli("run", str(path), "--quiet")
    assert outcome.code == 2, outcome.text
    assert "rejected its parameters: AssertionError at" in outcome.text
    assert "broken_envs.py" in outcome.text and "assert size > 1" in outcome.text
    assert "Traceback" not in outcome.text
