"""Every env in `testbed.registry.ENVS` keeps the env contract (CONTRACT.md, env conventions).

Parametrized over the registry itself, so entries added later are tested without edits here:

- (a) the conformance kit (`testbed check env`, `testbed.conformance`): PettingZoo's API test
  (`parallel_api_test` / `api_test`) through `make_env`, seeding over whole episodes, the cost
  convention, fixed spaces, render modes;
- (b) seeding: two envs from `make_env`, reset with the same seed and driven by the same
  seeded random legal actions, emit identical observations, rewards, terminations and infos
  for `ROLLOUT_STEPS` agent steps (the conformance kit's `record` and `first_difference`,
  `testbed.conformance`); AEC envs also pass PettingZoo's `seed_test`. (PettingZoo's
  `parallel_seed_test` is not used: it stops after the first step, since `any(terminations)`
  iterates over agent names, and costs two resets per env more than the check here.)
- (c) cost: after reset and every step, every live agent's info holds a float `cost` (the kit's
  `cost_problem`); a `costs`
  dict holds floats, its names are declared in `EnvSpec.costs` and named in the env's module
  docstring, and when `cost` is not their plain sum, that docstring says how they combine
  (mentions "sum" or "weight");
- (d) the `EnvSpec` is true: api, action kind (and the parameter that switches it), masks,
  the default number of agents, `metadata["name"]`, an explicit factory signature.

An env whose optional dependency (`EnvSpec.extra`) is not installed is skipped, naming the
extra and the missing package; an installed package that fails to import or build fails.
Every id runs every check by default (about 2 minutes on 2 cores, most of it Safety-Gymnasium
rebuilding its MuJoCo world on each reset). For a quick local loop,
`TESTBED_QUICK_ENVS=1` runs (a)-(c) on a sample of each large family (more than `SAMPLE_ABOVE`
ids from one factory module with the same `extra`) that covers every (api, agents, actions)
signature, every cost name and the no-cost case; the others are skipped with a reason. (d)
always runs on every id.

Text formats read from `EnvSpec` (what registry authors must write):

- `agents`: an integer ("2"), or any text with "(default <n>)" or "(default <n> + <m> ...)";
- `actions`: alternatives joined by " | "; each is "discrete" or "continuous", optionally
  followed by "(masked)" (observation is a Dict with "action_mask", or infos carry one) or, for
  every alternative after the first, "(<bool factory parameter that selects it>)".
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import math
import os
import re
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.test import seed_test

from testbed.conformance.env import (
    check_env,
    cost_problem,
    first_difference,
    infos_in,
    record,
)
from testbed.errors import BadInput
from testbed.registry import ENV_KINDS, ENVS, EnvSpec, env_factory, make_env
from testbed.registry.catalog_more import LEGACY_ONLY, missing_here

ENV_IDS = sorted(ENVS)
API_CYCLES = 20
SEED_CYCLES = 30
ROLLOUT_STEPS = 60
SAMPLE_ABOVE = 8
ALL_ENVS = os.environ.get("TESTBED_QUICK_ENVS") != "1"


# ---------------------------------------------------------------------------------------------
# which ids run the behavioural checks


def coverage(spec: EnvSpec) -> set[tuple]:
    items = {("signature", spec.api, spec.agents, spec.actions)}
    items |= {("cost", name) for name in spec.costs} or {("no costs",)}
    return items


def behaviour_sample() -> set[str]:
    """The ids that run checks (a)-(c): all, except in large optional-dependency families."""
    families: dict[tuple, list[str]] = defaultdict(list)
    for env_id in ENV_IDS:
        spec = ENVS[env_id]
        families[(spec.extra, spec.entry.partition(":")[0])].append(env_id)
    chosen: set[str] = set()
    for (extra, _), ids in families.items():
        if ALL_ENVS or extra is None or len(ids) <= SAMPLE_ABOVE:
            chosen.update(ids)
            continue
        uncovered = set().union(*(coverage(ENVS[i]) for i in ids))
        while uncovered:  # greedy cover; ties go to the first id in sorted order
            best = max(ids, key=lambda i: len(coverage(ENVS[i]) & uncovered))
            chosen.add(best)
            uncovered -= coverage(ENVS[best])
    return chosen


SAMPLE = behaviour_sample()


def skip_unless_sampled(env_id: str) -> None:
    if env_id not in SAMPLE:
        pytest.skip(
            f"sampled out: other ids of its {ENVS[env_id].extra!r} family cover its spaces and "
            "cost names (TESTBED_QUICK_ENVS=1 is set; unset it to run every id)"
        )


# ---------------------------------------------------------------------------------------------
# helpers


def build(env_id: str, **params: Any) -> Any:
    """`make_env`, skipping only when a package the env's optional extra brings is not
    installed; any other build error (a package that is installed but breaks) fails."""
    extra = ENVS[env_id].extra
    try:
        return make_env(env_id, **params)
    except (ModuleNotFoundError, BadInput) as exc:
        missing = not_installed(exc)
        if extra is None or missing is None:
            raise
        pytest.skip(
            f"{env_id} needs the {extra!r} extra (pip install 'testbed[{extra}]'): package "
            f"{missing!r} is not installed"
        )


def not_installed(exc: BaseException) -> str | None:
    """The top-level package whose absence caused `exc` (or its cause), if it is truly not
    installed; None when the package is there (a missing submodule is breakage, e.g. a
    module that a newer release removed)."""
    for error in (exc, exc.__cause__):
        if isinstance(error, ModuleNotFoundError) and error.name:
            top = error.name.partition(".")[0]
            return top if importlib.util.find_spec(top) is None else None
    return None


def module_doc(env_id: str) -> str:
    return inspect.getmodule(env_factory(env_id)).__doc__ or ""


@functools.cache
def twin_traces(env_id: str) -> tuple[bool, list[tuple], list[tuple]]:
    """(parallel?, two runs of fresh envs with seed 7); shared by the seeding and cost tests."""
    traces = []
    for _ in range(2):
        env = build(env_id)
        parallel = isinstance(env, ParallelEnv)
        traces.append(record(env, 7, ROLLOUT_STEPS, episodes=False))
        env.close()
    return parallel, traces[0], traces[1]


def check_cost(env_id: str, agent: str, info: dict) -> None:
    """The kit's cost convention, then what the registry adds: cost names declared in the
    EnvSpec and the env's docstring, and how they combine."""
    where = f"{env_id}, agent {agent!r}"
    problem = cost_problem(agent, info)
    assert problem is None, f"{env_id}: {problem}"
    assert isinstance(info["cost"], float), f"{where}: cost {info['cost']!r} is not a float"
    if "costs" not in info:
        return
    cost, costs = info["cost"], info["costs"]
    doc = module_doc(env_id)
    for name in costs:
        assert name in ENVS[env_id].costs, f"{where}: cost {name!r} is not in EnvSpec.costs"
        assert name in doc, f"{where}: the env's module docstring never names cost {name!r}"
    if not math.isclose(cost, sum(costs.values()), rel_tol=1e-6, abs_tol=1e-9):
        assert "sum" in doc or "weight" in doc, (
            f"{where}: cost {cost} != sum(costs) {sum(costs.values())} and the env's module "
            "docstring does not say how the costs combine"
        )


# ---------------------------------------------------------------------------------------------
# (a)-(c)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_conformance_kit(env_id: str) -> None:
    """`testbed check env` on every id: PettingZoo's api test, seeding over episodes, the cost
    convention, fixed spaces, render modes."""
    skip_unless_sampled(env_id)
    build(env_id).close()  # skips when an optional dependency is missing
    findings = check_env(env_id, steps=ROLLOUT_STEPS, api_cycles=API_CYCLES)
    failed = [f"{f.check}: {f.message}" for f in findings if f.ok is False]
    assert not failed, f"{env_id}: " + "; ".join(failed)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seeding(env_id: str) -> None:
    skip_unless_sampled(env_id)
    parallel, first, second = twin_traces(env_id)
    where = first_difference(first, second)
    assert where is None, f"{env_id}: runs with seed 7 first differ at {where}"
    if not parallel:  # PettingZoo's own seed test too (see the module docstring)
        seed_test(lambda: make_env(env_id), num_cycles=SEED_CYCLES)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_cost_in_infos(env_id: str) -> None:
    skip_unless_sampled(env_id)
    parallel, trace, _ = twin_traces(env_id)
    checked = 0
    for entry in trace:
        for agent, info in infos_in(entry, parallel):
            check_cost(env_id, agent, info)
            checked += 1
    assert checked >= len(trace), f"{env_id}: an entry of the rollout carried no info"


# ---------------------------------------------------------------------------------------------
# (d)


def default_agent_count(text: str) -> int:
    match = re.search(r"\(default ([^)]*)\)", text)
    terms = (match.group(1) if match else text).split("+")
    if not all(term.strip().isdigit() for term in terms):
        pytest.fail(
            f"cannot read a default agent count from agents={text!r}; write a number, or "
            "'<formula> (default 3)' / '(default 1 + 3)'"
        )
    return sum(int(term) for term in terms)


ACTION_KINDS = {
    "discrete": lambda s: isinstance(
        s, spaces.Discrete | spaces.MultiDiscrete | spaces.MultiBinary
    ),
    "continuous": lambda s: isinstance(s, spaces.Box) and np.issubdtype(s.dtype, np.floating),
}


def parse_actions(text: str) -> list[tuple[str, str | None]]:
    """Split `EnvSpec.actions` into (kind, note in parentheses or None) alternatives."""
    alternatives = []
    for part in text.split("|"):
        match = re.fullmatch(r"\s*([a-z-]+)\s*(?:\(([^)]*)\))?\s*", part)
        if match is None or match.group(1) not in ACTION_KINDS:
            pytest.fail(f"actions={text!r}: each alternative must be one of {sorted(ACTION_KINDS)}")
        alternatives.append((match.group(1), match.group(2)))
    return alternatives


def check_action_kind(env_id: str, env: Any, kind: str, masked: bool, label: str) -> None:
    for agent in env.possible_agents:
        space = env.action_space(agent)
        assert ACTION_KINDS[kind](space), f"{env_id} ({label}): {agent} acts in {space}, not {kind}"
        if not masked:
            continue
        observation_space = env.observation_space(agent)
        if isinstance(observation_space, spaces.Dict) and "action_mask" in observation_space.spaces:
            continue
        infos = env.reset(seed=0)[1] if isinstance(env, ParallelEnv) else None
        if infos is None:
            env.reset(seed=0)
            infos = env.infos
        assert "action_mask" in infos.get(agent, {}), (
            f"{env_id}: actions say 'masked' but {agent} gets no action_mask"
        )


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_spec_is_true(env_id: str) -> None:
    spec: EnvSpec = ENVS[env_id]
    env = build(env_id)
    assert spec.kind in ENV_KINDS, f"{env_id}: kind {spec.kind!r} not in {ENV_KINDS}"
    expected_type = {"parallel": ParallelEnv, "aec": AECEnv}[spec.api]
    assert isinstance(env, expected_type), f"{env_id}: api {spec.api!r} but got {type(env)}"
    assert env.metadata.get("name"), f"{env_id}: metadata has no 'name'"
    count = default_agent_count(spec.agents)
    assert len(env.possible_agents) == count, (
        f"{env_id}: agents={spec.agents!r} says {count} by default, env has {env.possible_agents}"
    )

    factory = env_factory(env_id)
    parameters = inspect.signature(factory).parameters.values()
    for p in parameters:
        assert p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL), f"{env_id}: *{p.name} in factory"
        assert p.default is not p.empty, f"{env_id}: factory parameter {p.name!r} has no default"

    (kind, note), *others = parse_actions(spec.actions)
    check_action_kind(env_id, env, kind, note == "masked", "defaults")
    env.close()
    names = {p.name for p in parameters}
    for kind, switch in others:
        assert switch in names, (
            f"{env_id}: actions={spec.actions!r}: write the factory parameter that selects "
            f"{kind!r} in parentheses (one of {sorted(names)})"
        )
        switched = build(env_id, **{switch: True})
        check_action_kind(env_id, switched, kind, False, f"{switch}=True")
        switched.close()


def test_the_sample_covers_every_family() -> None:
    for env_id in ENV_IDS:
        spec = ENVS[env_id]
        family = [
            i
            for i in SAMPLE
            if ENVS[i].extra == spec.extra
            and ENVS[i].entry.partition(":")[0] == spec.entry.partition(":")[0]
        ]
        covered = set().union(*(coverage(ENVS[i]) for i in family))
        assert coverage(spec) <= covered, f"{env_id}: nothing in the sample covers it"


@pytest.mark.parametrize("env_id", sorted(LEGACY_ONLY))
def test_legacy_only_envs_name_the_stack_that_runs_them(env_id: str) -> None:
    """PettingZoo 1.25+ removed or replaced these: on the modern stack asking for one is one
    clear error naming the legacy stack; on the legacy stack they are registered and build."""
    if env_id not in missing_here():
        assert env_id in ENVS
        return
    with pytest.raises(BadInput, match="legacy dependency stack only") as raised:
        make_env(env_id)
    assert "constraints.txt" in (raised.value.hint or "")
