"""Env conformance: everything testbed relies on, checked on any PettingZoo env.

`check_env(target)` builds the env (a registered id, `module:attr` or `path/file.py:Name`
naming a factory) and returns one `Finding` per check:

- build: the factory runs with its defaults;
- pettingzoo api: PettingZoo's own `parallel_api_test` / `api_test`;
- seed determinism: two fresh envs, reset with the same seed and driven by the same seeded
  random legal actions over whole episodes (`steps` agent steps, resetting with the next
  seed after each episode), emit identical observations, rewards, terminations, truncations
  and infos; the first step that differs is named (PettingZoo's `parallel_seed_test` stops
  after the first step);
- cost convention: after reset and every step each acting agent's info has a finite float
  `cost`, and `costs` (if any) maps names to finite floats;
- fixed spaces: `observation_space(a)` / `action_space(a)` return the same space before and
  after stepping, and observations lie in it;
- render modes: `metadata["render_modes"]` is a list;
- speed: agent steps per second over the determinism run (information, never a failure).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium.utils.env_checker import data_equivalence
from pettingzoo import ParallelEnv


@dataclass(frozen=True)
class Finding:
    """One check: `ok` True (passed), False (failed) or None (information only)."""

    check: str
    ok: bool | None
    message: str


def mask_of(observation: Any, info: dict) -> np.ndarray | None:
    """The legal-action mask an agent gets in its observation dict or its info, if any."""
    if isinstance(observation, dict) and "action_mask" in observation:
        return observation["action_mask"]
    return info.get("action_mask")


def sample_action(space: Any, rng: np.random.Generator, mask: np.ndarray | None) -> Any:
    from testbed.agents.baselines.random import sample

    return sample(space, rng, mask)


def record(env: Any, seed: int, steps: int, episodes: bool = True) -> list[tuple]:
    """Drive `env` with seeded random legal actions for `steps` agent steps; everything it
    emitted, in order. With `episodes`, a finished episode is followed by a reset with the
    next seed; otherwise recording stops there.

    Parallel: ("reset", observations, infos), ("step", actions, observations, rewards,
    terminations, truncations, infos). AEC: ("reset", infos), ("step", agent, action, what
    `last()` returned, the infos of every live agent after the step).
    """
    rng = np.random.default_rng(seed)
    trace: list[tuple] = []
    count, episode = 0, 0
    while count < steps:
        before = count
        if isinstance(env, ParallelEnv):
            observations, infos = env.reset(seed=seed + episode)
            trace.append(copy.deepcopy(("reset", observations, infos)))
            while env.agents and count < steps:
                actions = {
                    a: sample_action(env.action_space(a), rng, mask_of(observations[a], infos[a]))
                    for a in env.agents
                }
                observations, rewards, terms, truncs, infos = env.step(actions)
                entry = ("step", actions, observations, rewards, terms, truncs, infos)
                trace.append(copy.deepcopy(entry))
                count += 1
        else:
            env.reset(seed=seed + episode)
            trace.append(("reset", {a: dict(env.infos[a]) for a in env.agents}))
            for agent in env.agent_iter():
                if count >= steps:
                    break
                last = env.last()
                observation, _, termination, truncation, info = last
                done = termination or truncation
                mask = mask_of(observation, info)
                action = None if done else sample_action(env.action_space(agent), rng, mask)
                env.step(action)
                infos_after = {a: dict(env.infos[a]) for a in env.agents}
                trace.append(("step", agent, action, copy.deepcopy(last), infos_after))
                count += 1
        episode += 1
        if not episodes:
            break
        if count == before:
            raise RuntimeError(f"reset(seed={seed + episode - 1}) left no agent to step")
    return trace


def infos_in(entry: tuple, parallel: bool) -> list[tuple[str, dict]]:
    """(agent, info) pairs a trace entry must carry a cost in."""
    if parallel:
        if entry[0] == "reset":
            return list(entry[2].items())
        actions, infos = entry[1], entry[6]
        return [(a, infos.get(a)) for a in actions]
    if entry[0] == "reset":
        return list(entry[1].items())
    agent, last, infos_after = entry[1], entry[3], entry[4]
    return [(agent, last[4]), *infos_after.items()]


def cost_problem(agent: str, info: Any) -> str | None:
    """What breaks the cost convention in one agent's info, or None."""
    if not isinstance(info, dict):
        return f"agent {agent!r} has no info dict"
    if "cost" not in info:
        return f"agent {agent!r}: info has no 'cost' (keys {sorted(info)})"
    cost = info["cost"]
    if not _finite_number(cost):
        return f"agent {agent!r}: cost {cost!r} is not a finite number"
    costs = info.get("costs", {})
    if not isinstance(costs, dict):
        return f"agent {agent!r}: 'costs' must be a dict name -> number"
    for name, value in costs.items():
        if not _finite_number(value):
            return f"agent {agent!r}: costs[{name!r}] = {value!r} is not a finite number"
    return None


def _finite_number(value: Any) -> bool:
    """A real number (int, float, numpy scalar; not bool) that is finite."""
    real = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    return real and math.isfinite(float(value))


FIELDS = {
    ("parallel", "reset"): ("kind", "observations", "infos"),
    ("parallel", "step"): (
        "kind",
        "actions",
        "observations",
        "rewards",
        "terminations",
        "truncations",
        "infos",
    ),
    ("aec", "reset"): ("kind", "infos"),
    ("aec", "step"): ("kind", "agent", "action", "last() (observation, reward, ...)", "infos"),
}


def first_difference(one: list[tuple], two: list[tuple]) -> str | None:
    """Where two traces first differ ("step 50 (observations)": the 50th agent step, counted
    over episodes), or None."""
    steps = 0
    for a, b in zip(one, two, strict=False):
        if not data_equivalence(a, b):
            api = "parallel" if a[0] == "reset" and len(a) == 3 or len(a) == 7 else "aec"
            names = FIELDS[(api, a[0])]
            field = next(
                (names[i] for i in range(min(len(a), len(b))) if not data_equivalence(a[i], b[i])),
                "kind",
            )
            return f"{'a reset' if a[0] == 'reset' else f'step {steps + 1}'} ({field})"
        steps += a[0] == "step"
    if len(one) != len(two):
        return f"step {steps + 1} (one run ended, the other did not)"
    return None


def build(target: str, **params: Any) -> Any:
    from testbed.registry import make_env

    return make_env(target, **params)


def check_env(target: str, *, seed: int = 7, steps: int = 200, api_cycles: int = 20):
    """The findings of every check above on the env `target` names."""
    from testbed.errors import BadInput

    findings: list[Finding] = []
    try:
        env = build(target)
    except BadInput:  # an unknown id or a bad reference: the caller's input, not the env's
        raise
    except Exception as exc:  # the factory is user code: any error is the finding
        return [Finding("build", False, f"{type(exc).__name__}: {exc}")]
    parallel = isinstance(env, ParallelEnv)
    findings.append(
        Finding("build", True, f"{type(env).__name__}, {'parallel' if parallel else 'AEC'}, "
                f"agents {list(env.possible_agents)}")
    )  # fmt: skip
    findings.append(_guarded("pettingzoo api", lambda: _api(env, parallel, api_cycles)))
    _close(env)
    traces, seconds = [], 0.0
    for run in range(2):
        fresh = None
        try:
            fresh = build(target)
            before = _spaces_of(fresh)
            started = time.perf_counter()
            traces.append(record(fresh, seed, steps))
            seconds = time.perf_counter() - started
            if run == 1:
                findings.append(_spaces(fresh, before, traces[-1], parallel))
        except Exception as exc:  # the env's own error, whichever call raised it
            findings.append(Finding("seed determinism", False, f"{type(exc).__name__}: {exc}"))
            return findings
        finally:
            if fresh is not None:
                _close(fresh)
    where = first_difference(*traces)
    findings.append(
        Finding(
            "seed determinism", where is None, f"two runs with seed {seed} first differ at {where}"
        )
        if where
        else Finding("seed determinism", True, f"{steps} agent steps identical (seed {seed})")
    )
    problems = [p for e in traces[0] for a, i in infos_in(e, parallel) if (p := cost_problem(a, i))]
    findings.append(
        Finding("cost convention", not problems, problems[0] if problems else
                "every agent's info has a numeric 'cost' after reset and every step")
    )  # fmt: skip
    modes = env.metadata.get("render_modes")
    findings.append(
        Finding(
            "render modes", isinstance(modes, list | tuple), f"metadata render_modes: {modes!r}"
        )
    )
    findings.append(Finding("speed", None, f"{steps / max(seconds, 1e-9):,.0f} agent steps/s"))
    return findings


def _close(env: Any) -> None:
    try:
        env.close()
    except Exception:  # a failing close() must not hide the findings
        pass


def _guarded(check: str, body: Any) -> Finding:
    try:
        message = body()
    except Exception as exc:
        return Finding(check, False, f"{type(exc).__name__}: {exc}")
    return Finding(check, True, message)


def _api(env: Any, parallel: bool, cycles: int) -> str:
    """PettingZoo's api test, its prints and warnings kept out of the report."""
    import contextlib
    import io
    import warnings

    from pettingzoo.test import api_test, parallel_api_test

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        (parallel_api_test if parallel else api_test)(env, num_cycles=cycles)
    notes = sorted({str(w.message) for w in seen})
    return "PettingZoo's api test passed" + (f" (warnings: {'; '.join(notes)})" if notes else "")


def _spaces_of(env: Any) -> dict[str, tuple[Any, Any]]:
    return {a: (env.observation_space(a), env.action_space(a)) for a in env.possible_agents}


def _spaces(env: Any, before: dict, trace: list[tuple], parallel: bool) -> Finding:
    """The spaces after the run equal those before it, and observations lie in them."""
    after = _spaces_of(env)
    changed = [a for a in before if before[a] != after.get(a)]
    if changed:
        return Finding("fixed spaces", False, f"agent {changed[0]!r}: its spaces changed")
    for entry in trace:
        if parallel:
            seen = (entry[1] if entry[0] == "reset" else entry[2]).items()
        else:
            seen = [] if entry[0] == "reset" else [(entry[1], entry[3][0])]
        for agent, observation in seen:
            if not env.observation_space(agent).contains(observation):
                message = f"agent {agent!r}: an observation lies outside its observation space"
                return Finding("fixed spaces", False, message)
    return Finding("fixed spaces", True, "spaces fixed; every observation inside its space")
