"""The registry: explicit, lazy `id -> "module:attr"` entries for environments and agents.

Importing this module imports no environment or agent. An id resolves, in order, to:

1. a built-in entry of `ENVS` / `AGENTS` below (flat, explicit, like gymnasium's registry);
2. an entry point of a third-party package, group `testbed.envs` / `testbed.agents`, whose name
   is the id and whose value is `module:attr`;
3. user code, written in a scenario as `package.module:attr` or `path/to/file.py:Name` (a
   relative path is taken from the scenario file's folder).

An env entry is a factory `(**params) -> PettingZoo env` (Parallel or AEC). An agent entry is a
class built as `Class(observation_space, action_space, config)` where `config` is an instance of
its frozen `Class.Config` dataclass; scenario parameters are checked against that dataclass.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from testbed.errors import BadInput

ENV_KINDS = ("cooperative", "competitive", "mixed", "constrained")


@dataclass(frozen=True)
class EnvSpec:
    """What `testbed list envs` shows without importing the env; a test checks it is true."""

    entry: str
    kind: str
    api: str  # "parallel" or "aec"
    agents: str  # e.g. "3", "2", "N (default 3)"
    actions: str  # e.g. "discrete", "continuous", "discrete | continuous (continuous_actions)"
    description: str
    costs: tuple[str, ...] = ()
    extra: str | None = None  # pip extra that installs the env's optional dependency


@dataclass(frozen=True)
class AgentSpec:
    """An agent class and where it fits."""

    entry: str
    topic: str
    description: str
    envs: tuple[str, ...] = ()  # env ids it is written for; empty = any env


def _mpe(name: str, kind: str, agents: str, description: str) -> EnvSpec:
    return EnvSpec(
        entry=f"testbed.envs.pettingzoo_std:{name}",
        kind=kind,
        api="parallel",
        agents=agents,
        actions="discrete | continuous (continuous_actions)",
        description=description,
    )


ENVS: dict[str, EnvSpec] = {
    # PettingZoo MPE (particle worlds), parallel API.
    "mpe/simple_spread_v3": _mpe(
        "simple_spread_v3",
        "cooperative",
        "N (default 3)",
        "N agents cover N landmarks and avoid collisions; reward mixes the shared coverage "
        "and own collisions (local_ratio).",
    ),
    "mpe/simple_reference_v3": _mpe(
        "simple_reference_v3",
        "cooperative",
        "2",
        "Two agents each guide the other to a target landmark by communicating.",
    ),
    "mpe/simple_tag_v3": _mpe(
        "simple_tag_v3",
        "competitive",
        "num_good + num_adversaries (default 1 + 3)",
        "Slower predators (adversary_*) chase faster prey (agent_*) among obstacles.",
    ),
    "mpe/simple_adversary_v3": _mpe(
        "simple_adversary_v3",
        "competitive",
        "N + 1 (default 3)",
        "Good agents reach the target landmark while hiding it from one adversary.",
    ),
    "mpe/simple_push_v3": _mpe(
        "simple_push_v3",
        "competitive",
        "2",
        "An adversary pushes the agent away from its target landmark.",
    ),
    # PettingZoo classic games, AEC API with legal-action masks.
    "classic/tictactoe_v3": EnvSpec(
        "testbed.envs.pettingzoo_std:tictactoe_v3",
        "competitive",
        "aec",
        "2",
        "discrete (masked)",
        "Tic-tac-toe; +1 win, -1 loss, 0 draw.",
    ),
    "classic/connect_four_v3": EnvSpec(
        "testbed.envs.pettingzoo_std:connect_four_v3",
        "competitive",
        "aec",
        "2",
        "discrete (masked)",
        "Connect four on a 6x7 board; +1 win, -1 loss, 0 draw.",
    ),
    "classic/rps_v2": EnvSpec(
        "testbed.envs.pettingzoo_std:rps_v2",
        "competitive",
        "parallel",
        "2",
        "discrete",
        "Repeated rock-paper-scissors (num_actions=5 for lizard-Spock).",
    ),
    "classic/chess_v6": EnvSpec(
        "testbed.envs.pettingzoo_std:chess_v6",
        "competitive",
        "aec",
        "2",
        "discrete (masked)",
        "Chess with AlphaZero-style observation and action planes.",
    ),
    # PettingZoo butterfly, parallel API.
    "butterfly/knights_archers_zombies_v10": EnvSpec(
        "testbed.envs.pettingzoo_std:knights_archers_zombies_v10",
        "cooperative",
        "parallel",
        "num_archers + num_knights (default 2 + 2)",
        "discrete",
        "Knights and archers kill advancing zombies (vector observations by default).",
    ),
    # >>> safety-gymnasium envs
    # Safety-Gymnasium 1.0.0 (envs/safety_gymnasium.py). "safety/<its task id>": one-agent
    # ParallelEnv; costs are the task's cost_<name> parts (none at level 0).
    **{
        f"safety/Safety{robot}{task}{level}-v0": EnvSpec(
            entry=f"testbed.envs.safety_gymnasium:Safety{robot}{task}{level}_v0",
            kind="constrained",
            api="parallel",
            agents="1",
            actions="continuous",
            description=f"Safety-Gymnasium {robot} robot, level {level}: {goal}.",
            costs=costs_by_level[level],
            extra="safety",
        )
        for task, goal, costs_by_level in (
            (
                "Goal",
                "reach a series of goals",
                (
                    (),
                    ("hazards",),
                    ("hazards", "vases_contact", "vases_velocity"),
                ),
            ),
            (
                "Button",
                "press the goal button among others",
                (
                    (),
                    ("buttons", "gremlins", "hazards"),
                    ("buttons", "gremlins", "hazards"),
                ),
            ),
            ("Push", "push a box onto the goal", ((), ("hazards",), ("hazards", "pillars"))),
            (
                "Circle",
                "run along a circle, inside the boundary",
                (
                    (),
                    ("out_of_boundary",),
                    ("out_of_boundary",),
                ),
            ),
        )
        for level in (0, 1, 2)
        for robot in ("Point", "Car")
    },
    **{
        f"safety/Safety{robot}Velocity-v1": EnvSpec(
            entry=f"testbed.envs.safety_gymnasium:Safety{robot}Velocity_v1",
            kind="constrained",
            api="parallel",
            agents="1",
            actions="continuous",
            description=f"Safety-Gymnasium {robot}: run forward; cost 1 above a speed limit.",
            costs=("velocity",),
            extra="safety",
        )
        for robot in ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid")
    },
    # Safe Multi-Agent MuJoCo: "safety-ma/<scenario>-<agent_conf>" (agents x joints each).
    **{
        f"safety-ma/{scenario}-{conf}": EnvSpec(
            entry=f"testbed.envs.safety_gymnasium:{scenario}_{conf.replace('|', '_')}",
            kind="constrained",
            api="parallel",
            agents=agents,
            actions="continuous",
            description=f"Safe MaMuJoCo {scenario} split {conf}: run forward together; "
            "shared cost 1 above a speed limit.",
            costs=("velocity",),
            extra="safety",
        )
        for scenario, conf, agents in (
            ("HalfCheetah", "2x3", "2"),
            ("HalfCheetah", "6x1", "6"),
            ("Ant", "2x4", "2"),
            ("Ant", "4x2", "4"),
            ("Hopper", "3x1", "3"),
            ("Walker2d", "2x3", "2"),
            ("Humanoid", "9|8", "2"),
        )
    },
    # <<< safety-gymnasium envs
    # >>> custom envs: cooperative + constrained
    "testbed/foraging_v0": EnvSpec(
        "testbed.envs.foraging:parallel_env",
        "cooperative",
        "parallel",
        "N (default 3)",
        "discrete",
        "Grid foraging: items need item_level (default 2) agents loading together; shared reward.",
    ),
    "testbed/safe_navigation_v0": EnvSpec(
        "testbed.envs.safe_navigation:parallel_env",
        "constrained",
        "parallel",
        "N (default 3)",
        "discrete | continuous (continuous_actions)",
        "Robots drive to their goals among circular hazards; hazard, collision and speed costs.",
        costs=("hazard", "collision", "speed"),
    ),
    # <<< custom envs: cooperative + constrained
    # >>> custom envs: competitive + mixed
    "testbed/breakthrough_v0": EnvSpec(
        "testbed.envs.breakthrough:breakthrough_v0",
        "competitive",
        "aec",
        "2",
        "discrete (masked)",
        "Breakthrough on a 5x5 board (rows, cols): race a piece to the far row or capture "
        "all; +1 win, -1 loss, never a draw.",
    ),
    "testbed/commons_harvest_v0": EnvSpec(
        "testbed.envs.commons_harvest:commons_harvest_v0",
        "mixed",
        "parallel",
        "n_agents (default 5)",
        "discrete",
        "Shared logistic stock; reward = own harvest; greed pays short-term, "
        "over-harvesting collapses the stock.",
        costs=("depletion",),
    ),
    # <<< custom envs: competitive + mixed
}


AGENTS: dict[str, AgentSpec] = {
    "random": AgentSpec(
        "testbed.agents.baselines.random:RandomPolicy",
        "baseline",
        "Uniform random over any action space; only legal actions when a mask is given.",
    ),
    "noop": AgentSpec(
        "testbed.agents.baselines.noop:NoopPolicy",
        "baseline",
        "A fixed action (0 / the Box centre by default; the first legal one if masked out), "
        "a lower bound for most tasks.",
    ),
    "scripted/connect_four": AgentSpec(
        "testbed.agents.scripted.connect_four:ConnectFourHeuristic",
        "scripted",
        "Wins if it can, blocks the opponent's win, else prefers the centre columns among "
        "those that do not hand the opponent a win.",
        envs=("classic/connect_four_v3",),
    ),
    "scripted/tictactoe": AgentSpec(
        "testbed.agents.scripted.tictactoe:TicTacToeHeuristic",
        "scripted",
        "Wins if it can, blocks if it must, then centre, corners, edges.",
        envs=("classic/tictactoe_v3",),
    ),
    "scripted/spread_nearest": AgentSpec(
        "testbed.agents.scripted.mpe:SpreadNearestLandmark",
        "scripted",
        "MPE spread: matches agents to landmarks greedily (closest pair first) and moves to "
        "its own; discrete or continuous actions.",
        envs=("mpe/simple_spread_v3",),
    ),
    "scripted/tag_chaser": AgentSpec(
        "testbed.agents.scripted.mpe:TagChaser",
        "scripted",
        "MPE tag predator: runs at the nearest prey, aiming slightly ahead of it.",
        envs=("mpe/simple_tag_v3",),
    ),
    "scripted/tag_fleer": AgentSpec(
        "testbed.agents.scripted.mpe:TagFleer",
        "scripted",
        "MPE tag prey: moves away from the nearest predators, pulled back toward the centre.",
        envs=("mpe/simple_tag_v3",),
    ),
    # >>> custom agents: cooperative + constrained
    "scripted/forager": AgentSpec(
        "testbed.agents.scripted.foraging:Forager",
        "scripted",
        "Foraging: heads for the item it and its partners reach soonest, then loads and waits.",
        envs=("testbed/foraging_v0",),
    ),
    "scripted/safe_navigator": AgentSpec(
        "testbed.agents.scripted.safe_navigation:SafeNavigator",
        "scripted",
        "Plans around hazards (safety_margin), yields to robots, stays under the speed limit.",
        envs=("testbed/safe_navigation_v0",),
    ),
    "scripted/unsafe_navigator": AgentSpec(
        "testbed.agents.scripted.safe_navigation:UnsafeNavigator",
        "scripted",
        "Known-unsafe: drives straight at its goal through hazards and other robots.",
        envs=("testbed/safe_navigation_v0",),
    ),
    # <<< custom agents: cooperative + constrained
    # >>> custom agents: competitive + mixed
    "scripted/breakthrough_search": AgentSpec(
        "testbed.agents.scripted.breakthrough_search:BreakthroughNegamax",
        "scripted",
        "Negamax with alpha-beta to `depth` plies (0 = random legal move); deeper is stronger.",
        envs=("testbed/breakthrough_v0",),
    ),
    "scripted/commons_sustainable": AgentSpec(
        "testbed.agents.scripted.commons:SustainableHarvester",
        "scripted",
        "Always plays its share of the maximum-sustainable-yield effort.",
        envs=("testbed/commons_harvest_v0",),
    ),
    "scripted/commons_greedy": AgentSpec(
        "testbed.agents.scripted.commons:GreedyHarvester",
        "scripted",
        "Always harvests with the highest effort level.",
        envs=("testbed/commons_harvest_v0",),
    ),
    "scripted/commons_tit_for_tat": AgentSpec(
        "testbed.agents.scripted.commons:ConditionalCooperator",
        "scripted",
        "Sustainable while the others were on average, greedy for a step after they were not.",
        envs=("testbed/commons_harvest_v0",),
    ),
    # <<< custom agents: competitive + mixed
}


# ---------------------------------------------------------------------------------------------
# Resolution


def is_reference(name: str) -> bool:
    """True for user code written as `module:attr` or `path/to/file.py:Name`."""
    return ":" in name


def _plugin_entries(group: str) -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=group)}


def env_ids() -> list[str]:
    return sorted(set(ENVS) | set(_plugin_entries("testbed.envs")))


def agent_ids() -> list[str]:
    return sorted(set(AGENTS) | set(_plugin_entries("testbed.agents")))


def _unknown(what: str, name: str, known: list[str], where: str | None) -> BadInput:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if not close:  # also match on the last part, e.g. "simple_spread" -> "mpe/simple_spread_v3"
        tails = {k.split("/")[-1]: k for k in known}
        close = [tails[t] for t in difflib.get_close_matches(name, list(tails), n=3, cutoff=0.5)]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else None
    listing = f"`testbed list {what}s` shows them all"
    return BadInput(f"unknown {what} id {name!r}; {listing}", where=where, hint=hint)


def load_reference(ref: str, *, base_dir: Path | None = None, where: str | None = None) -> Any:
    """Import `module:attr` or `path/to/file.py:Name` and return the attribute."""
    target, _, attr = ref.rpartition(":")
    if not target or not attr:
        raise BadInput(f"{ref!r} is not of the form module:attr or file.py:Name", where=where)
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise BadInput(f"file {str(path)!r} not found (from {ref!r})", where=where)
        module_name = f"testbed_user_{abs(hash(str(path.resolve())))}"
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[module_name]
                raise BadInput(f"importing {str(path)!r} failed: {exc!r}", where=where) from exc
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            raise BadInput(f"cannot import module {target!r}: {exc}", where=where) from exc
        except Exception as exc:
            raise BadInput(f"importing module {target!r} failed: {exc!r}", where=where) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        names = [n for n in dir(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attr, names, n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else None
        raise BadInput(f"{target!r} has no attribute {attr!r}", where=where, hint=hint) from None


def _entry(
    what: str, name: str, builtin: Mapping[str, Any], where: str | None, base_dir: Path | None
) -> Any:
    if is_reference(name):
        return load_reference(name, base_dir=base_dir, where=where)
    if name in builtin:
        return load_reference(builtin[name].entry, where=where)
    plugins = _plugin_entries(f"testbed.{what}s")
    if name in plugins:
        return load_reference(plugins[name], where=where)
    raise _unknown(what, name, sorted(set(builtin) | set(plugins)), where)


def check_env_id(name: str, *, where: str | None = None) -> None:
    """Raise BadInput with a did-you-mean when `name` is not a known env id or a reference."""
    if not is_reference(name) and name not in ENVS and name not in _plugin_entries("testbed.envs"):
        raise _unknown("env", name, env_ids(), where)


def check_agent_id(name: str, *, where: str | None = None) -> None:
    if (
        not is_reference(name)
        and name not in AGENTS
        and name not in _plugin_entries("testbed.agents")
    ):
        raise _unknown("agent", name, agent_ids(), where)


def env_factory(name: str, *, where: str | None = None, base_dir: Path | None = None) -> Callable:
    return _entry("env", name, ENVS, where, base_dir)


def agent_class(name: str, *, where: str | None = None, base_dir: Path | None = None) -> type:
    return _entry("agent", name, AGENTS, where, base_dir)


# ---------------------------------------------------------------------------------------------
# Construction with parameter checks


def _close(name: str, options: list[str]) -> str | None:
    """The nearest option, case-insensitively (so `n` finds `N`)."""
    by_lower = {o.lower(): o for o in options}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def env_param_names(factory: Callable) -> list[str] | None:
    """Keyword parameters the factory accepts, or None when it takes **kwargs."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    return [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def check_env_param(factory: Callable, key: str, *, name: str, where: str | None = None) -> None:
    """Reject a parameter the factory does not accept, naming the ones it does."""
    accepted = env_param_names(factory)
    if accepted is None or key in accepted:
        return
    close = _close(key, accepted)
    raise BadInput(
        f"env {name!r} has no parameter {key!r}; it accepts: {', '.join(accepted)}",
        where=where,
        hint=f"did you mean {close!r}?" if close else None,
    )


def make_env(
    name: str,
    *,
    where: str | None = None,
    base_dir: Path | None = None,
    **params: Any,
) -> Any:
    """Build the PettingZoo env registered as `name` (or a `module:attr` reference)."""
    factory = env_factory(name, where=where, base_dir=base_dir)
    for key in params:
        check_env_param(factory, key, name=name, where=where)
    try:
        return factory(**params)
    except (TypeError, ValueError, AssertionError) as exc:
        raise BadInput(f"env {name!r} rejected its parameters: {exc}", where=where) from exc


def agent_config(
    cls: type, params: Mapping[str, Any], *, name: str, where: str | None = None
) -> Any:
    """Validate `params` against `cls.Config` (a dataclass) and return the config instance."""
    config_cls = getattr(cls, "Config", None)
    if config_cls is None or not dataclasses.is_dataclass(config_cls):
        if params:
            raise BadInput(f"agent {name!r} takes no parameters, got {sorted(params)}", where=where)
        return None
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    for key in params:
        if key not in fields:
            close = _close(str(key), list(fields))
            raise BadInput(
                f"agent {name!r} has no parameter {key!r}; "
                f"it accepts: {', '.join(fields) or '(none)'}",
                where=f"{where}.{key}" if where else None,
                hint=f"did you mean {close!r}?" if close else None,
            )
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(config_cls).validate_python(dict(params))
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(p) for p in error["loc"])
        got = error.get("input")
        raise BadInput(
            f"agent {name!r} parameter {loc!r}: {error['msg']} (got {got!r})",
            where=f"{where}.{loc}" if where else None,
        ) from None


def make_agent(
    name: str,
    observation_space: Any,
    action_space: Any,
    *,
    where: str | None = None,
    base_dir: Path | None = None,
    **params: Any,
) -> Any:
    """Build the agent registered as `name` for one PettingZoo agent's spaces."""
    cls = agent_class(name, where=where, base_dir=base_dir)
    config = agent_config(cls, params, name=name, where=where)
    try:
        return cls(observation_space, action_space, config)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"agent {name!r} cannot act in this env: {exc}", where=where) from exc
