"""`kind: evaluate`: N episodes of a team on an env, summarised with confidence intervals."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import model_validator

from testbed.context import StageContext, StageResult
from testbed.evaluate.stats import summarize_episodes
from testbed.meta.adapt import AdaptSpec, adaptive_agent, run_adaptation
from testbed.meta.tasks import TaskSpec
from testbed.rollout.episode import EpisodeRecord
from testbed.rollout.executor import EpisodeRunner, Executor, LocalExecutor
from testbed.scenario.document import Scenario
from testbed.scenario.models import Comparison, Count, TeamStage
from testbed.seeding import EpisodeSeeds

EpisodeCallback = Callable[[int, EpisodeRecord], None]


class EvaluateStage(TeamStage):
    """`kind: evaluate`: N episodes of a team on an env; per-agent and team metrics with CIs."""

    kind: Literal["evaluate"]
    episodes: Count = 100
    expect: dict[str, Comparison] | None = None
    """Claims the pytest plugin checks, e.g. {"team.return": ">= -30"}: the confidence interval
    of that metric's mean must lie on the stated side (`testbed.testing`)."""
    tasks: TaskSpec | None = None
    """Held-out tasks (env parameters drawn per task) for `adapt:`."""
    adapt: AdaptSpec | None = None
    """Score a meta-learner on `tasks`: returns before and after each adaptation step, over
    tasks (testbed/meta/adapt.py); `episodes` is then unused."""

    @model_validator(mode="after")
    def _adapt_needs_tasks(self) -> EvaluateStage:
        if (self.adapt is None) != (self.tasks is None):
            raise ValueError("`adapt` and `tasks` go together (adaptation to held-out tasks)")
        if self.adapt is not None and self.expect is not None:
            raise ValueError("`expect` does not work with `adapt` yet")
        return self


@dataclass
class EvaluateResult(StageResult):
    """Team and per-agent metrics of the stage's episodes (records kept in memory only)."""

    kind: ClassVar[str] = "evaluate"
    transient: ClassVar[tuple[str, ...]] = ("records",)

    agents: dict[str, Any] = field(default_factory=dict)
    seats: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    episodes: int = 0
    wall_time_s: float = 0.0
    episodes_per_s: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    records: list[EpisodeRecord] = field(default_factory=list)


def check_evaluate(scenario: Scenario, index: int) -> dict[str, str]:
    """Build the stage's env and team, playing nothing; {agent: label of its policy}."""
    stage = scenario.stages[index]
    if stage.adapt is not None:
        env, agent = adaptive_agent(scenario, index)
        env.close()
        return {env.possible_agents[0]: type(agent).__name__}
    preflight = EpisodeRunner(scenario, index)
    seats = {agent: stage.agents[pattern].label for agent, pattern in preflight.seats.items()}
    preflight.close()
    return seats


def run_evaluate(
    scenario: Scenario,
    index: int,
    executor: Executor | None = None,
    on_episode: EpisodeCallback | None = None,
    done: dict[int, EpisodeRecord] | None = None,
) -> EvaluateResult:
    """Play the stage's episodes and return its result (records in episode order); episodes
    in `done` (an interrupted run's) are kept, not played again."""
    stage = scenario.stages[index]
    seeds = EpisodeSeeds(
        scenario.stage_seed(index), stage.episodes, stream=scenario.seed_stream(index)
    )
    executor = executor or LocalExecutor()
    seats = check_evaluate(scenario, index)  # bad input fails here, before any worker starts

    records = {k: r for k, r in (done or {}).items() if k < stage.episodes}
    todo = (k for k in range(stage.episodes) if k not in records) if records else None
    started = time.perf_counter()
    for number, record in executor.imap(scenario, index, seeds, numbers=todo):
        records[number] = record
        if on_episode is not None:
            on_episode(number, record)
    elapsed = time.perf_counter() - started
    ordered = [records[k] for k in sorted(records)]
    return EvaluateResult(
        name=scenario.stage_name(index),
        env=stage.env.model_dump(),
        agents={p: ref.model_dump() for p, ref in stage.agents.items()},
        seats=seats,
        seed=scenario.stage_seed(index),
        episodes=len(ordered),
        wall_time_s=elapsed,
        episodes_per_s=len(ordered) / elapsed if elapsed > 0 else None,
        metrics=summarize_episodes(ordered),
        records=ordered,
    )


def run_evaluate_stage(context: StageContext) -> EvaluateResult:
    """The table's entry: `run_evaluate` with a progress bar and the episode log."""
    if context.stage.adapt is not None:
        return run_adapt_stage(context)
    done = context.resume.episodes(context.name) if context.resume else {}
    context.progress.start(f"evaluate {context.name}", total=context.stage.episodes)
    context.progress.update(completed=len(done))
    return run_evaluate(
        context.scenario, context.index, context.executor, context.episode_done, done
    )


def run_adapt_stage(context: StageContext) -> EvaluateResult:
    """An evaluate stage with `adapt:`: adaptation curves over held-out tasks."""
    scenario, index, stage = context.scenario, context.index, context.stage
    seats = check_evaluate(scenario, index)
    context.progress.start(f"adapt {context.name}", total=stage.tasks.count)
    started = time.perf_counter()
    metrics = run_adaptation(scenario, index, lambda n: context.progress.update(completed=n))
    return EvaluateResult(
        name=context.name,
        env=stage.env.model_dump(),
        agents={p: ref.model_dump() for p, ref in stage.agents.items()},
        seats=seats,
        seed=scenario.stage_seed(index),
        episodes=stage.tasks.count * (2 * stage.adapt.steps + 1) * stage.adapt.episodes,
        wall_time_s=time.perf_counter() - started,
        metrics=metrics,
    )
