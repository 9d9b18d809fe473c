"""Build a stage's env and team from a scenario, with errors that point into the file."""

from __future__ import annotations

from typing import Any

from testbed import registry
from testbed.errors import BadInput
from testbed.scenario import Scenario
from testbed.team import PolicyTeam


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
        from testbed.envs.constraints import add_costs

        env = add_costs(env, stage.env.costs, where=scenario.where("stages", index, "env", "costs"))
    return env


def seat_assignment(scenario: Scenario, index: int, agent_names: list[str]) -> dict[str, str]:
    """{env agent name: scenario pattern}; every agent covered, every pattern used."""
    stage = scenario.stages[index]
    seats: dict[str, str] = {}
    for agent in agent_names:
        match = stage.agent_for(agent)
        if match is None:
            raise BadInput(
                f"no entry in `agents` matches env agent {agent!r}; "
                f"the env has agents {agent_names}",
                where=scenario.where("stages", index, "agents"),
                hint='add the name, a glob like "agent_*", or "*" for all agents',
            )
        seats[agent] = match[0]
    unused = [p for p in stage.agents if p not in seats.values()]
    if unused:
        raise BadInput(
            f"agents entry {unused[0]!r} matches no agent of env {stage.env.id!r} "
            f"(its agents: {', '.join(agent_names)})",
            where=scenario.where("stages", index, "agents", unused[0]),
        )
    return seats


def build_team(scenario: Scenario, index: int, env: Any) -> tuple[PolicyTeam, dict[str, str]]:
    """One policy per env agent, chosen by the stage's `agents` patterns."""
    stage = scenario.stages[index]
    seats = seat_assignment(scenario, index, list(env.possible_agents))
    policies = {}
    for agent, pattern in seats.items():
        ref = stage.agents[pattern]
        policies[agent] = registry.make_agent(
            ref.id,
            env.observation_space(agent),
            env.action_space(agent),
            where=scenario.where("stages", index, "agents", pattern),
            base_dir=scenario.base_dir,
            **ref.params,
        )
    return PolicyTeam(policies), seats
