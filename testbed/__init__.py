"""testbed: evaluation, tournaments and safety audits of PettingZoo agents, from a YAML file.

The public Python API mirrors the command line::

    import testbed
    env = testbed.make_env("mpe/simple_spread_v3", N=3)
    agent = testbed.make_agent(
        "random", env.observation_space("agent_0"), env.action_space("agent_0")
    )
    scenario = testbed.load_scenario("scenarios/quickstart.yaml")
    result = testbed.run(scenario)
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# pygame (MPE's renderer) lets SDL install its own SIGTERM/SIGINT handlers, which would swallow
# the signal that stops a run; keep Python's (docs/STACK.md).
os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")

from testbed._quiet import silence_adroit_notice  # noqa: E402

silence_adroit_notice()

# gymnasium must be imported before pettingzoo: gymnasium 0.29 loads its plugin entry points on
# import, gymnasium-robotics is one and imports pettingzoo, which fails if pettingzoo is half
# imported at that moment (docs/STACK.md, trap 4).
import gymnasium  # noqa: E402, F401

from testbed._version import __version__  # noqa: E402

if TYPE_CHECKING:
    from testbed.registry import make_agent, make_env
    from testbed.rollout.make_vec import make_vec_env
    from testbed.runner import run
    from testbed.stages import load_scenario

__all__ = ["__version__", "load_scenario", "make_agent", "make_env", "make_vec_env", "run"]

# The API is imported when first used: a worker process, which imports `testbed` first, then
# needs only its own part (an env and agents), starts in a fraction of the time.
_API = {
    "make_agent": "testbed.registry",
    "make_env": "testbed.registry",
    "make_vec_env": "testbed.rollout.make_vec",
    "run": "testbed.runner",
    "load_scenario": "testbed.stages",
}


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'testbed' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value
