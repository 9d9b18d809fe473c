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
with the episode. Turn-based (AEC) games: each agent's dataset holds its own turns; the
reward and cost of a transition are what the agent received from its move until its next
turn (PettingZoo's `last()`), so a game's final result lands on each player's last move.
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
    """Check the id; build the env and team."""
    stage = scenario.stages[index]
    check_id(stage.dataset, scenario.where("stages", index, "dataset"))
    env = build_env_or_fail(scenario, index)
    try:
        build_team(scenario, index, env)
    finally:
        env.close()


@dataclass
class _How:
    """How actions are chosen: which policy, and the epsilon of random ones."""

    policy: str
    epsilon: float
    rng: np.random.Generator


def _choose(env: Any, team: Any, agent: str, observation: Any, mask: Any, how: _How) -> Any:
    """The agent's action: its policy's, or (with probability epsilon) a random legal one."""
    p = team.policies[agent]
    choose = getattr(p, "explore", p.act) if how.policy == "explore" else p.act
    action = choose(observation, mask)
    if how.epsilon > 0 and how.rng.random() < how.epsilon:
        space = env.action_space(agent)
        space.seed(int(how.rng.integers(2**31)))
        action = space.sample(np.asarray(mask, np.int8)) if mask is not None else space.sample()
    return action


def play_and_record(
    env: Any,
    team: Any,
    seed: int,
    *,
    policy: str = "act",
    epsilon: float = 0.0,
    max_steps: int | None = None,
) -> dict[str, Episode]:
    """One episode: {agent: its Episode} (agents that joined late start at their first
    observation; one that leaves ends there). Turn-based envs: see `play_turns`."""
    how = _How(policy, epsilon, np.random.default_rng(stream_seed(seed, "epsilon", 0)))
    if hasattr(env, "agent_iter"):
        return play_turns(env, team, seed, how, max_steps)
    observations, infos = env.reset(seed=seed)
    team.reset(seed)
    record = {a: Episode(seed=seed, observations=[observations[a]]) for a in env.agents}
    length = 0
    while env.agents:
        live = list(env.agents)
        actions = {
            a: _choose(
                env, team, a, observations[a], action_mask(observations[a], infos.get(a)), how
            )
            for a in live
        }
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


def play_turns(
    env: Any, team: Any, seed: int, how: _How, max_steps: int | None
) -> dict[str, Episode]:
    """One episode of a turn-based (AEC) env: each agent's own turns. A transition closes at
    the agent's next turn, with what `last()` then reports (reward and cost since its move,
    the new observation, whether it is done); a cut at max_steps closes open ones truncated."""
    env.reset(seed=seed)
    team.reset(seed)
    record: dict[str, Episode] = {}
    open_move: set[str] = set()
    moves = 0
    for agent in env.agent_iter():
        observation, reward, terminated, truncated, info = env.last()
        done = terminated or truncated
        cut = max_steps is not None and moves >= max_steps and not done
        episode = record.setdefault(agent, Episode(seed=seed, observations=[observation]))
        if agent in open_move:
            _close(episode, observation, reward, info, terminated, truncated or cut)
            open_move.discard(agent)
        if done:
            env.step(None)
            continue
        if cut:
            break
        action = _choose(env, team, agent, observation, action_mask(observation, info), how)
        episode.actions.append(action)
        open_move.add(agent)
        env.step(action)
        moves += 1
    rewards = getattr(getattr(env, "unwrapped", env), "_cumulative_rewards", {})
    for agent in open_move:  # cut at max_steps: close with the state the agent would see
        info = env.infos.get(agent, {})
        _close(record[agent], env.observe(agent), rewards.get(agent, 0.0), info, False, True)
    return {a: e for a, e in record.items() if len(e)}


def _close(
    episode: Episode, observation: Any, reward: Any, info: Any, terminated: bool, truncated: bool
) -> None:
    episode.rewards.append(float(reward or 0.0))
    episode.costs.append(float((info or {}).get("cost", 0.0)))
    episode.terminations.append(bool(terminated))
    episode.truncations.append(bool(truncated))
    episode.observations.append(observation)


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
