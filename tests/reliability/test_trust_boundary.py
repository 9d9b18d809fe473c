"""Data never imports code: a checkpoint or a run folder loads only registered agents and envs,
or the code the user names again; a scenario that names a non-factory is refused unrun."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gymnasium import spaces

from testbed import load_scenario, run
from testbed.errors import BadInput
from testbed.registry import registered_only
from testbed.registry.checkpoint import load_checkpoint, save_checkpoint

EVIL = """
from pathlib import Path
Path({marker!r}).write_text("imported")

class Agent:
    def __init__(self, observation_space, action_space, config=None):
        self.space = action_space
    def reset(self, seed=None): ...
    def act(self, observation, action_mask=None):
        return 0
    def state_dict(self):
        return {{}}
    def load_state_dict(self, state): ...
"""


@pytest.fixture
def evil(tmp_path: Path) -> tuple[Path, Path]:
    """A module that leaves a marker file when imported; (module, marker)."""
    marker = tmp_path / "MARKER"
    module = tmp_path / "evil.py"
    module.write_text(EVIL.format(marker=str(marker)))
    return module, marker


def shared_checkpoint(
    folder: Path, agent: str, params: dict | None = None, *, joint: bool = False
) -> Path:
    """A checkpoint as someone else might share it: config.json names `agent`."""
    obs, act = spaces.Box(-1, 1, (3,)), spaces.Discrete(2)
    save_checkpoint(
        folder,
        _Empty(),
        agent_id=agent,
        params=params or {},
        observation_space={"agent_0": obs} if joint else obs,
        action_space={"agent_0": act} if joint else act,
    )
    return folder


class _Empty:
    def state_dict(self) -> dict:
        return {}


def test_a_checkpoint_naming_code_does_not_import_it(evil, tmp_path):
    module, marker = evil
    folder = shared_checkpoint(tmp_path / "ck", f"{module}:Agent")
    with pytest.raises(BadInput, match="which is code; a checkpoint loads code only when you"):
        load_checkpoint(folder, spaces.Box(-1, 1, (3,)), spaces.Discrete(2))
    assert not marker.exists()
    # named by the user, it loads
    agent = load_checkpoint(
        folder, spaces.Box(-1, 1, (3,)), spaces.Discrete(2), agent=f"{module}:Agent"
    )
    assert marker.exists() and agent.act(None) == 0


def test_a_scenario_using_such_a_checkpoint_must_name_the_code(evil, tmp_path, write_yaml, cli):
    module, marker = evil
    folder = shared_checkpoint(tmp_path / "ck", f"{module}:Agent")
    text = "kind: evaluate\nenv: {id: gym/any, params: {task: CartPole-v1}}\nepisodes: 1\n"
    bare = write_yaml(text + f'agents: {{agent_0: {{checkpoint: "{folder}"}}}}\n', "bare.yaml")
    for command in ("validate", "run"):
        result = cli(command, bare, *(["--out", tmp_path / "o"] if command == "run" else []))
        assert result.code == 2 and "which is code" in result.text
    assert not marker.exists()


def test_code_in_a_checkpoints_params_is_refused(evil, tmp_path):
    module, marker = evil
    folder = shared_checkpoint(tmp_path / "ck", "iql", {"learner": f"{module}:Agent"}, joint=True)
    obs = {"agent_0": spaces.Box(-1, 1, (3,))}
    act = {"agent_0": spaces.Discrete(2)}
    with pytest.raises(BadInput, match="names code, which is not run here"):
        load_checkpoint(folder, obs, act)
    assert not marker.exists()


def test_replaying_a_run_that_names_code_needs_trust(evil, tmp_path, write_yaml, cli):
    module, marker = evil
    path = write_yaml(
        f"kind: evaluate\nenv: classic/rps_v2\nagents: {{'*': {module}:Agent}}\nepisodes: 2\n"
    )
    run(load_scenario(path), tmp_path / "run", show=False)
    marker.unlink()
    result = cli("replay", tmp_path / "run", "--episode", "1")
    assert result.code == 2 and "imports the code it names only with --trust-code" in result.text
    assert not marker.exists()
    result = cli("replay", tmp_path / "run", "--episode", "1", "--trust-code")
    assert result.code == 0 and "identical to the recorded episode" in result.text


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ("os:system", "is not an env factory: it is the built-in function 'system'"),
        ("json:JSONDecoder", "is not an env factory: it is a type"),
    ],
)
def test_a_scenario_cannot_call_arbitrary_callables_as_envs(cli, write_yaml, tmp_path, env, needle):
    marker = tmp_path / "PWNED"
    text = f"kind: evaluate\nenv: {{id: '{env}', params: {{command: 'touch {marker}'}}}}\n"
    path = write_yaml(text + "agents: {'*': random}\nepisodes: 1\n")
    for command in ("validate", "run"):
        result = cli(command, path, *(["--out", tmp_path / command] if command == "run" else []))
        assert result.code == 2 and needle.replace("a type", "") in result.text
    assert not marker.exists()


def test_agents_must_be_agent_classes(cli, write_yaml):
    path = write_yaml("kind: evaluate\nenv: classic/rps_v2\nagents: {'*': 'json:dumps'}\n")
    result = cli("validate", path)
    assert result.code == 2 and "'json:dumps' is not an agent class" in result.text


def test_registered_only_refuses_every_reference():
    from testbed import registry

    with registered_only("because"), pytest.raises(BadInput, match="is not run here: because"):
        registry.agent_class("json:JSONDecoder")
    assert registry.agent_class("random").__name__ == "RandomPolicy"


def test_a_train_then_evaluate_scenario_may_use_its_own_code_checkpoints(write_yaml, tmp_path):
    tiny = Path(__file__).resolve().parents[1] / "support" / "tiny_learner.py"
    path = write_yaml(f"""
        stages:
          - kind: train
            name: learn
            env: {{id: classic/rps_v2, params: {{max_cycles: 5}}}}
            agents: {{player_0: {{id: "{tiny}:TinyLearner"}}, player_1: noop}}
            steps: 50
          - kind: evaluate
            env: {{id: classic/rps_v2, params: {{max_cycles: 5}}}}
            agents: {{player_0: {{checkpoint: "@learn/player_0"}}, player_1: noop}}
            episodes: 2
    """)
    result = run(load_scenario(path), tmp_path / "run", show=False)
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["status"] == "ok" and result.stages[1].episodes == 2
