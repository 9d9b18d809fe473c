"""Build a stage's env and team from a scenario, with errors that point into the file."""

from __future__ import annotations

import fnmatch
import functools
from pathlib import Path
from typing import Any

from testbed import registry
from testbed.errors import BadInput, RunFailed, TestbedError
from testbed.joint import is_joint, members
from testbed.registry.checkpoint import checkpoint_agent, load_checkpoint, read_config
from testbed.rollout.make_vec import make_vec_env
from testbed.rollout.team import PolicyTeam
from testbed.scenario.document import Scenario


def build_env(scenario: Scenario, index: int, **extra: Any) -> Any:
    """The stage's env, with any costs the scenario adds through the constraint wrapper."""
    stage = scenario.stages[index]
    env = registry.make_env(
        stage.env.id,
        where=scenario.where("stages", index, "env"),
        base_dir=scenario.base_dir,
        **{**stage.env.params, **extra},
    )
    if stage.env.costs:
        from testbed.envs.constraints import add_costs  # an env module: imported when used

        env = add_costs(env, stage.env.costs, where=scenario.where("stages", index, "env", "costs"))
    return env


def build_env_or_fail(scenario: Scenario, index: int) -> Any:
    """`build_env` for a stage about to run: input errors stay BadInput; an env that fails
    to build for any other reason fails the run (exit 3) with one clear message."""
    try:
        return build_env(scenario, index)
    except TestbedError:
        raise
    except Exception as exc:
        raise RunFailed(
            f"building env {scenario.stages[index].env.id!r} failed: {type(exc).__name__}: {exc}"
        ) from exc


def build_vec_env(
    scenario: Scenario, index: int, num_envs: int, *, check: bool = False, **extra: Any
) -> Any:
    """`num_envs` copies of the stage's env stepped together (testbed/rollout/vector.py):
    the env's native batched implementation when it has one and the stage adds no costs, else
    copies of `build_env` (in this process, or in worker processes; `check`: in this process,
    to find bad input without starting any); `extra` params go over the stage's."""
    stage = scenario.stages[index]
    vectorization = getattr(stage, "vectorization", "auto")
    if check and vectorization == "subprocess":
        vectorization = "sync"
    if stage.env.costs and vectorization == "native":
        raise BadInput(
            "a native batched env cannot add costs; use vectorization: sync or subprocess",
            where=scenario.where("stages", index, "vectorization"),
        )
    if stage.env.costs and vectorization == "auto":
        vectorization = "sync"
    spec = registry.ENVS.get(stage.env.id)
    if vectorization == "native" and getattr(spec, "vector", None) is None:
        raise BadInput(
            f"env {stage.env.id!r} has no native batched implementation",
            where=scenario.where("stages", index, "vectorization"),
            hint="use vectorization: sync (copies in this process) or subprocess",
        )
    try:
        return make_vec_env(
            stage.env.id,
            num_envs,
            vectorization=vectorization,
            step_limit=stage.max_steps,
            make=functools.partial(build_env, scenario, index, **extra),
            where=scenario.where("stages", index, "env"),
            **{**stage.env.params, **extra},
        )
    except TestbedError:
        raise
    except Exception as exc:
        raise RunFailed(
            f"building {num_envs} copies of env {stage.env.id!r} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def match_pattern(agents: dict[str, Any], agent_name: str) -> str | None:
    """The pattern of `agents` that fills `agent_name`: its exact name, else the first glob."""
    if agent_name in agents:
        return agent_name
    return next((p for p in agents if fnmatch.fnmatchcase(agent_name, p)), None)


def subject_agents(scenario: Scenario, index: int, subject: str = "agents") -> dict[str, Any]:
    """The {pattern: AgentRef} mapping of a stage's subject: `agents` or an audit `baseline`."""
    agents = getattr(scenario.stages[index], subject, None)
    if not agents:
        raise BadInput(f"stage {scenario.stage_name(index)!r} has no {subject!r}")
    return agents


def seat_assignment(
    scenario: Scenario, index: int, agent_names: list[str], subject: str = "agents"
) -> dict[str, str]:
    """{env agent name: scenario pattern}; every agent covered, every pattern used."""
    stage = scenario.stages[index]
    agents = subject_agents(scenario, index, subject)
    seats: dict[str, str] = {}
    for agent in agent_names:
        match = match_pattern(agents, agent)
        if match is None:
            raise BadInput(
                f"no entry in `{subject}` matches env agent {agent!r}; "
                f"the env has agents {agent_names}",
                where=scenario.where("stages", index, subject),
                hint='add the name, a glob like "agent_*", or "*" for all agents',
            )
        seats[agent] = match
    unused = [p for p in agents if p not in seats.values()]
    if unused:
        raise BadInput(
            f"{subject} entry {unused[0]!r} matches no agent of env {stage.env.id!r} "
            f"(its agents: {', '.join(agent_names)})",
            where=scenario.where("stages", index, subject, unused[0]),
        )
    return seats


def build_team(
    scenario: Scenario, index: int, env: Any, subject: str = "agents"
) -> tuple[PolicyTeam, dict[str, str]]:
    """One policy per env agent, chosen by the stage's `agents` (or `baseline`) patterns."""
    agents = subject_agents(scenario, index, subject)
    seats = seat_assignment(scenario, index, list(env.possible_agents), subject)
    policies = build_seats(
        scenario, agents, seats, env, lambda p: scenario.where("stages", index, subject, p)
    )
    return PolicyTeam(policies), seats


def build_seats(
    scenario: Scenario,
    refs: dict[str, Any],
    seats: dict[str, str],
    env: Any,
    where: Any,
) -> dict[str, Any]:
    """{agent: policy} for seats {agent: pattern of `refs`}. A joint agent (testbed/joint.py)
    is built once per pattern, for all the agents it fills, and seated as its Members."""
    policies: dict[str, Any] = {}
    for pattern, ref in refs.items():
        names = [a for a, p in seats.items() if p == pattern]
        if not names:
            continue
        if ref_is_joint(scenario, ref, where=where(pattern)):
            group = build_policy(
                scenario,
                ref,
                {a: env.observation_space(a) for a in names},
                {a: env.action_space(a) for a in names},
                where=where(pattern),
            )
            policies.update(members(group))
            continue
        for agent in names:
            policies[agent] = build_policy(
                scenario,
                ref,
                env.observation_space(agent),
                env.action_space(agent),
                where=where(pattern),
            )
    return {agent: policies[agent] for agent in seats}


def ref_is_joint(scenario: Scenario, ref: Any, *, where: str | None = None) -> bool:
    """Does the ref (registry id or checkpoint folder) name a joint (multi-agent) class?"""
    agent_id = ref.id
    if ref.checkpoint is not None:
        if ref.checkpoint.startswith("@"):
            return False  # unresolved; build_policy reports it
        path = Path(ref.checkpoint)
        if scenario.base_dir is not None and not path.is_absolute():
            path = scenario.base_dir / path
        agent_id = checkpoint_agent(path, read_config(path, where=where), ref.id, where=where)
    return is_joint(registry.agent_class(agent_id, where=where, base_dir=scenario.base_dir))


def build_policy(
    scenario: Scenario,
    ref: Any,
    observation_space: Any,
    action_space: Any,
    *,
    where: str | None = None,
) -> Any:
    """The policy an AgentRef names: a registered agent with params, or a checkpoint."""
    if ref.checkpoint is None:
        return registry.make_agent(
            ref.id,
            observation_space,
            action_space,
            where=where,
            base_dir=scenario.base_dir,
            **ref.params,
        )
    if ref.checkpoint.startswith("@"):
        raise BadInput(
            f"{ref.checkpoint!r} refers to a train stage of this run, which has not produced it",
            where=where,
        )
    return load_checkpoint(
        ref.checkpoint,
        observation_space,
        action_space,
        agent=ref.id,
        where=where,
        base_dir=scenario.base_dir,
    )
