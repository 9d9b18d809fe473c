"""testbed._stack: the names that differ between the legacy and the modern stack (docs/STACK.md)
follow the installed versions, and `import pettingzoo` before `import testbed` works."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import gymnasium
import pytest

from testbed import _stack
from testbed.registry import ENVS, make_env

MODERN = int(metadata.version("gymnasium").split(".")[0]) >= 1


def test_stack_follows_gymnasium() -> None:
    assert _stack.stack() == ("modern" if MODERN else "legacy")


@pytest.mark.parametrize("name", ["CliffWalking", "Taxi"])
def test_toy_text_ids_are_this_gymnasiums(name: str) -> None:
    task = _stack.gym_id(name)
    assert task in gymnasium.registry, f"{task} not registered in gymnasium {gymnasium.__version__}"
    newest = max(i for i in gymnasium.registry if i.startswith(f"{name}-v"))
    assert task == newest, f"{name}: {task} registered, but gymnasium's newest is {newest}"
    env = make_env(f"gym/{task}")
    assert env.metadata["name"] == f"gym/{task}"
    env.reset(seed=0)
    env.close()
    stale = {f"gym/{i}" for i in gymnasium.registry if i.startswith(f"{name}-v")} - {f"gym/{task}"}
    assert not stale & set(ENVS), "the catalog registers an id of the other stack"


def test_kaz_version_is_pettingzoos_own() -> None:
    from pettingzoo import butterfly

    name = _stack.kaz_name()
    assert f"butterfly/{name}" in ENVS
    assert hasattr(butterfly, name) or __import__(f"pettingzoo.butterfly.{name}")
    env = make_env(f"butterfly/{name}", max_cycles=5)
    observations, _ = env.reset(seed=1)
    assert set(observations) == {"archer_0", "archer_1", "knight_0", "knight_1"}
    env.close()


def test_mpe_comes_from_this_stacks_package() -> None:
    module = _stack.mpe_module("simple_spread_v3")
    expected = "mpe2" if MODERN else "pettingzoo.mpe"
    assert module.__name__.startswith(expected), module.__name__
    env = make_env("mpe/simple_spread_v3")
    env.reset(seed=0)
    assert env.unwrapped.world.agents, "no .world (constraints and batched MPE need it)"
    env.close()


def test_mpe_missing_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_stack, "mpe_package", lambda: "no_such_mpe_package")
    with pytest.raises(ModuleNotFoundError, match="no_such_mpe_package"):
        _stack.mpe_module("simple_spread_v3")


def test_pettingzoo_imported_before_testbed() -> None:
    """The import-order trap (docs/STACK.md, trap 4), in a fresh interpreter."""
    code = (
        "import pettingzoo, pettingzoo.utils\n"
        "import testbed\n"
        "env = testbed.make_env('mpe/simple_spread_v3')\n"
        "env.reset(seed=0)\n"
        "print(sorted(env.agents))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "agent_0" in done.stdout
