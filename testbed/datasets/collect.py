"""`kind: collect`: play a team on an env and write what every agent saw and did as a Minari
dataset (testbed/datasets/store.py: where, the per-agent layout, costs, seeds).

```yaml
- kind: collect
  env: gym/CartPole-v1
  agents: {"*": {checkpoint: "@train/agent_0"}}
  dataset: cartpole/expert-v0     # multi-agent envs: cartpole/expert/<agent>-v0 per agent
  episodes: 50
  policy: act                     # or explore (the learners' behaviour policy)
  epsilon: 0.0                    # chance of a uniformly random (legal) action per step
```

Episode k is seeded as in `kind: evaluate` (the stage's seed and stream); the seed is stored
with the episode. Parallel envs only (turn-based AEC games are not collected yet).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field
from rich.panel import Panel
from rich.table import Table

from testbed.context import StageContext, StageResult
from testbed.datasets.store import (
    Episode,
    agent_dataset_id,
    check_id,
    datasets_root,
    write_dataset,
)
from testbed.errors import BadInput
from testbed.report.format import fmt
from testbed.rollout.build import build_env_or_fail, build_team
from testbed.rollout.episode import action_mask
from testbed.scenario.document import Scenario
from testbed.scenario.models import Count, TeamStage
from testbed.seeding import EpisodeSeeds, stream_seed


class CollectStage(TeamStage):
    """`kind: collect`: N episodes of a team written as a Minari dataset (one per agent in
    multi-agent envs)."""

    kind: Literal["collect"]
    dataset: str
    """Minari id `[namespace/]name-vN` (multi-agent: `[namespace/]name/<agent>-vN` each)."""
    episodes: Count = 10
    policy: Literal["act", "explore"] = "act"
    """Which policy plays: the evaluation one (`act`) or the learners' behaviour policy."""
    epsilon: float = Field(default=0.0, ge=0, le=1)
    """Chance per step that an agent's action is replaced by a uniformly random legal one."""
    overwrite: bool = True
    """Replace a dataset with the same id (the same scenario and seed write the same data)."""


@dataclass
class CollectResult(StageResult):
    """What was written: one dataset per agent."""

    kind: ClassVar[str] = "collect"

    root: str = ""
    datasets: dict[str, str] = field(default_factory=dict)
    """{env agent: dataset id}."""
    seed: int = 0
    episodes: int = 0
    steps: int = 0
    mean_return: dict[str, float] = field(default_factory=dict)
    mean_cost: dict[str, float] = field(default_factory=dict)
    wall_time_s: float = 0.0


def check_collect(scenario: Scenario, index: int) -> None:
    """Check the id and that the env is a parallel one; build the env and team."""
    stage = scenario.stages[index]
    check_id(stage.dataset, scenario.where("stages", index, "dataset"))
    env = build_env_or_fail(scenario, index)
    try:
        if hasattr(env, "agent_iter"):
            raise BadInput(
                f"collect needs a parallel env; {stage.env.id!r} is turn-based (AEC)",
                where=scenario.where("stages", index, "env"),
            )
        build_team(scenario, index, env)
    finally:
        env.close()


def play_and_record(
    env: Any,
    team: Any,
    seed: int,
    *,
    policy: str = "act",
    epsilon: float = 0.0,
    max_steps: int | None = None,
) -> dict[str, Episode]:
    """One episode of a parallel env: {agent: its Episode} (agents that joined late start at
    their first observation; one that leaves ends there)."""
    observations, infos = env.reset(seed=seed)
    team.reset(seed)
    rng = np.random.default_rng(stream_seed(seed, "epsilon", 0))
    record = {a: Episode(seed=seed, observations=[observations[a]]) for a in env.agents}
    length = 0
    while env.agents:
        live = list(env.agents)
        masks = {a: action_mask(observations[a], infos.get(a)) for a in live}
        actions = {}
        for a in live:
            p = team.policies[a]
            choose = getattr(p, "explore", p.act) if policy == "explore" else p.act
            actions[a] = choose(observations[a], masks[a])
            if epsilon > 0 and rng.random() < epsilon:
                space = env.action_space(a)
                space.seed(int(rng.integers(2**31)))
                mask = None if masks[a] is None else np.asarray(masks[a], np.int8)
                actions[a] = space.sample(mask) if mask is not None else space.sample()
        observations, rewards, terms, truncs, infos = env.step(actions)
        length += 1
        cut = max_steps is not None and length >= max_steps
        for a in live:
            e = record.setdefault(a, Episode(seed=seed))
            e.actions.append(actions[a])
            e.rewards.append(float(rewards.get(a, 0.0)))
            e.costs.append(float(infos.get(a, {}).get("cost", 0.0)))
            e.terminations.append(bool(terms.get(a, False)))
            e.truncations.append(bool(truncs.get(a, False)) or (cut and not terms.get(a, False)))
            e.observations.append(observations.get(a, e.observations[-1]))
        for a in env.agents:
            if a not in record:  # joined mid-episode
                record[a] = Episode(seed=seed, observations=[observations[a]])
        if cut:
            break
    return {a: e for a, e in record.items() if len(e)}


def run_collect(scenario: Scenario, index: int, on_episode: Any = None) -> CollectResult:
    """Play the stage's episodes and write one dataset per agent."""
    stage = scenario.stages[index]
    check_collect(scenario, index)
    root = datasets_root()
    seeds = EpisodeSeeds(scenario.stage_seed(index), stage.episodes, scenario.seed_stream(index))
    env = build_env_or_fail(scenario, index)
    started = time.perf_counter()
    try:
        team, seats = build_team(scenario, index, env)
        agents = list(env.possible_agents)
        episodes: dict[str, list[Episode]] = {a: [] for a in agents}
        for k in range(stage.episodes):
            played = play_and_record(
                env, team, seeds[k], policy=stage.policy, epsilon=stage.epsilon,
                max_steps=stage.max_steps,
            )  # fmt: skip
            for a, e in played.items():
                episodes[a].append(e)
            if on_episode is not None:
                on_episode(k, played)
        ids = {a: agent_dataset_id(stage.dataset, a, len(agents)) for a in agents}
        for a in agents:
            label = stage.agents[seats[a]].label
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # Minari's author/permalink notes
                write_dataset(
                    root, ids[a], episodes[a], env.observation_space(a), env.action_space(a),
                    overwrite=stage.overwrite, algorithm=label,
                    description=f"testbed collect: {label} as {a} on {stage.env.id} "
                    f"({stage.policy}, epsilon {stage.epsilon}); scenario {scenario.name}",
                )  # fmt: skip
    finally:
        env.close()
    return CollectResult(
        name=scenario.stage_name(index),
        env=stage.env.model_dump(),
        root=str(root.resolve()),
        datasets=ids,
        seed=scenario.stage_seed(index),
        episodes=stage.episodes,
        steps=sum(len(e) for e in episodes[agents[0]]),
        mean_return={a: float(np.mean([sum(e.rewards) for e in episodes[a]])) for a in agents},
        mean_cost={a: float(np.mean([sum(e.costs) for e in episodes[a]])) for a in agents},
        wall_time_s=time.perf_counter() - started,
    )


def run_collect_stage(context: StageContext) -> CollectResult:
    """The table's entry: `run_collect` with a progress bar over episodes."""
    context.progress.start(f"collect {context.name}", total=context.stage.episodes)
    result = run_collect(
        context.scenario, context.index, lambda k, _: context.progress.update(advance=1)
    )
    result.name = context.name
    return result


@dataclass
class CollectView:
    """The report of one `kind: collect` stage."""

    result: CollectResult
    run_dir: Path | None = None

    def __rich__(self) -> Panel:
        r = self.result
        table = Table(title=f"datasets under {r.root}", title_justify="left")
        for column in ("agent", "dataset", "mean return", "mean cost"):
            table.add_column(column)
        for agent, dataset_id in r.datasets.items():
            table.add_row(
                agent, dataset_id, fmt(r.mean_return.get(agent)), fmt(r.mean_cost.get(agent))
            )
        table.caption = f"{r.episodes} episodes, {r.steps} steps, root seed {r.seed}"
        title = f"[bold]collect[/] {r.name} · [cyan]{r.env['id']}[/]"
        return Panel(table, title=title, title_align="left")


def collect_markdown(result: CollectResult) -> list[str]:
    """Markdown lines: one row per agent's dataset."""
    lines = [
        f"{result.episodes} episodes, {result.steps} steps, under `{result.root}`",
        "",
        "| agent | dataset | mean return | mean cost |",
        "|---|---|---|---|",
    ]
    for agent, dataset_id in result.datasets.items():
        lines.append(
            f"| {agent} | `{dataset_id}` | {fmt(result.mean_return.get(agent))} "
            f"| {fmt(result.mean_cost.get(agent))} |"
        )
    return lines
