from __future__ import annotations

import textwrap

import pytest

from testbed import registry
from testbed.errors import BadInput


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A third-party distribution on sys.path registering an env and an agent."""
    (tmp_path / "tb_plugin.py").write_text(
        textwrap.dedent("""
        from testbed.agents.baselines.random import RandomPolicy

        def rps_fast(num_actions: int = 3, max_cycles: int = 5):
            from testbed.envs.pettingzoo_std import rps_v2
            return rps_v2(num_actions=num_actions, max_cycles=max_cycles)

        class Plugged(RandomPolicy):
            pass
    """)
    )
    dist = tmp_path / "tb_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tb-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[testbed.envs]\nplugin/rps_fast_v0 = tb_plugin:rps_fast\n\n"
        "[testbed.agents]\nplugin/plugged = tb_plugin:Plugged\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_entry_point_plugins_are_listed_and_built(plugin):
    assert "plugin/rps_fast_v0" in registry.env_ids()
    assert "plugin/plugged" in registry.agent_ids()
    env = registry.make_env("plugin/rps_fast_v0", max_cycles=2)
    agent = registry.make_agent(
        "plugin/plugged", env.observation_space("player_0"), env.action_space("player_0")
    )
    assert type(agent).__name__ == "Plugged"
    with pytest.raises(BadInput, match="has no parameter 'cycles'"):
        registry.make_env("plugin/rps_fast_v0", cycles=2)


def test_registry_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, testbed.registry; "
        "print(any(m.startswith(('torch', 'testbed.envs.', 'testbed.agents.')) "
        "for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_entry_points_at_an_existing_attribute():
    import inspect

    for name, spec in {**registry.ENVS, **registry.AGENTS}.items():
        module, _, attr = spec.entry.partition(":")
        assert module.startswith("testbed.") and attr, name
        target = registry.load_reference(spec.entry)  # imports the module
        assert callable(target), name
        if name in registry.AGENTS:
            assert isinstance(target, type), f"{name}: an agent entry names a class"
        for key in getattr(spec, "fixed", {}):
            assert key in inspect.signature(target).parameters, f"{name}: fixed {key!r}"


def test_env_kinds_are_known():
    assert {spec.kind for spec in registry.ENVS.values()} <= set(registry.ENV_KINDS)
