"""`kind: describe`: record what a stage's env is (agents, spaces, parameters with their
defaults, declared costs) and, with `agents:`, which agent fills each seat with which full
config, without playing an episode. A run's own record of its setup; `testbed describe ENV`
prints the same for one env.

```yaml
- kind: describe
  env: {id: mpe/simple_spread_v3, params: {N: 4}}
  agents: {"*": scripted/spread_nearest}     # optional
```
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from testbed import registry
from testbed.context import StageContext, StageResult
from testbed.rollout.build import build_env_or_fail, build_team
from testbed.scenario.document import Scenario
from testbed.scenario.models import AgentRef, Loc, StageModel


class DescribeStage(StageModel):
    """`kind: describe`: the env's agents, spaces, parameters and costs (and, with `agents`,
    each seat's agent and its full config)."""

    kind: Literal["describe"]
    agents: dict[str, AgentRef] | None = None

    def agent_refs(self) -> list[tuple[Loc, AgentRef]]:
        return [(("agents", p), r) for p, r in (self.agents or {}).items()]


@dataclass
class DescribeResult(StageResult):
    """What the env is, seat by seat."""

    kind: ClassVar[str] = "describe"

    env_kind: str | None = None
    api: str | None = None
    description: str = ""
    costs: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)


def describe_env(
    env_id: str, env: Any, params: dict[str, Any], added_costs: tuple[str, ...] = ()
) -> DescribeResult:
    """Describe a built env: its registry entry, every factory parameter (given or default),
    its declared costs and those a scenario adds (`env.costs`), each agent's spaces."""
    factory = registry.env_factory(env_id)
    spec = registry.ENVS.get(env_id)
    defaults = {
        p.name: None if p.default is p.empty else p.default
        for p in inspect.signature(factory).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    costs = list(spec.costs) if spec else []
    costs += [c for c in (*getattr(env, "cost_names", ()), *added_costs) if c not in costs]
    return DescribeResult(
        name=env_id,
        env={"id": env_id, "params": params},
        env_kind=spec.kind if spec else None,
        api=spec.api if spec else ("aec" if hasattr(env, "agent_iter") else "parallel"),
        description=spec.description if spec else (factory.__doc__ or "").strip(),
        costs=costs,
        params={**defaults, **params},
        agents={
            a: {"observation": str(env.observation_space(a)), "action": str(env.action_space(a))}
            for a in env.possible_agents
        },
    )


def check_describe(scenario: Scenario, index: int) -> None:
    """Build the env (and the team, when `agents` is given)."""
    env = build_env_or_fail(scenario, index)
    try:
        if scenario.stages[index].agents:
            build_team(scenario, index, env)
    finally:
        env.close()


def run_describe_stage(context: StageContext) -> DescribeResult:
    """Build the env (and the team, when `agents` is given); play nothing."""
    scenario, index, stage = context.scenario, context.index, context.stage
    context.progress.start(f"describe {context.name}", total=1)
    env = build_env_or_fail(scenario, index)
    try:
        result = describe_env(stage.env.id, env, dict(stage.env.params), tuple(stage.env.costs))
        if stage.agents:
            team, seats = build_team(scenario, index, env)
            for agent, pattern in seats.items():
                policy = team.policies[agent]
                config = getattr(getattr(policy, "group", policy), "config", None)
                result.agents[agent]["policy"] = stage.agents[pattern].label
                if dataclasses.is_dataclass(config):
                    result.agents[agent]["config"] = dataclasses.asdict(config)
    finally:
        env.close()
    result.name = context.name
    context.progress.update(advance=1)
    return result


@dataclass
class DescribeView:
    """The report of one `kind: describe` stage."""

    result: DescribeResult
    run_dir: Path | None = None

    def __rich__(self) -> Panel:
        r = self.result
        params = Table(title="parameters (env.params)", title_justify="left")
        params.add_column("name")
        params.add_column("value")
        for name, value in r.params.items():
            params.add_row(name, repr(value))
        agents = Table(title="agents", title_justify="left")
        columns = ["agent", "observation space", "action space"]
        with_policy = any("policy" in a for a in r.agents.values())
        for column in columns + (["policy"] if with_policy else []):
            agents.add_column(column, overflow="fold")
        for name, a in r.agents.items():
            row = [name, a["observation"], a["action"]]
            agents.add_row(*row, *([a.get("policy", "")] if with_policy else []))
        costs = ", ".join(r.costs) or "none (add some with env.costs)"
        head = Text(f"{r.env_kind or ''} · {r.api or ''}\n{r.description}\ncosts: {costs}")
        title = f"[bold]describe[/] {r.name} · [cyan]{r.env['id']}[/]"
        return Panel(Group(head, params, agents), title=title, title_align="left")


def describe_markdown(result: DescribeResult) -> list[str]:
    """Markdown lines: one row per agent with its spaces (and policy)."""
    lines = ["| agent | observation space | action space | policy |", "|---|---|---|---|"]
    for name, a in result.agents.items():
        lines.append(f"| {name} | `{a['observation']}` | `{a['action']}` | {a.get('policy', '')} |")
    costs = ", ".join(result.costs) or "none"
    return [*lines, "", f"API {result.api}; costs: {costs}.", ""]
