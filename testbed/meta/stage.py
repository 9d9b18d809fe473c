"""`kind: meta_train`: a meta-learner (maml, reptile, multitask) learns from a task
distribution and writes a meta-checkpoint.

    - kind: meta_train
      name: meta
      env: testbed/point_nav_v0
      tasks: {params: {goal_angle: {low: 0.0, high: 6.283}}}
      agents: {agent_0: {id: maml, params: {meta_batch: 20, episodes: 20}}}
      iterations: 100

Each iteration draws the learner's `meta_batch` fresh tasks (stream `meta-train` of the
stage's seed) and calls its `meta_step`; the metrics of every iteration go to
`<run>/<stage>/meta_curve.csv`. The checkpoint (`checkpoints/final/<agent>/`) is named by later
stages as `"@<stage>/<agent>"`: an evaluate stage with `tasks:` and `adapt:` scores it on
held-out tasks before and after adaptation (testbed/meta/adapt.py).
"""

from __future__ import annotations

import csv
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from rich.panel import Panel
from rich.table import Table

from testbed.context import StageContext, StageResult
from testbed.errors import BadInput
from testbed.meta.adapt import adaptive_agent, check_tasks
from testbed.meta.tasks import TaskSpec, draw_tasks, task_maker
from testbed.report.format import fmt, slug
from testbed.rollout.build import build_env, seat_assignment
from testbed.scenario.document import Scenario
from testbed.scenario.models import Count, TeamStage
from testbed.seeding import stream_seed
from testbed.train.checkpoints import saved_units


class MetaTrainStage(TeamStage):
    """`kind: meta_train`: the stage's one agent meta-learns over `tasks` for `iterations`."""

    trains_agents: ClassVar[bool] = True

    kind: Literal["meta_train"]
    tasks: TaskSpec
    iterations: Count
    """Meta-iterations (outer updates), each on the learner's `meta_batch` fresh tasks."""


@dataclass
class MetaTrainResult(StageResult):
    """The meta-training curve and where the meta-checkpoint is."""

    kind: ClassVar[str] = "meta_train"

    seed: int = 0
    iterations: int = 0
    learner: str = ""
    curve: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: dict[str, str] = field(default_factory=dict)
    folder: str = ""
    wall_time_s: float = 0.0

    def trained_agents(self) -> dict[str, str]:
        return dict(self.checkpoints)


def _learner(scenario: Scenario, index: int) -> tuple[Any, Any]:
    env, agent = adaptive_agent(scenario, index)
    if not callable(getattr(agent, "meta_step", None)):
        env.close()
        raise BadInput(
            f"{type(agent).__name__} is not a meta-learner (it has no `meta_step`)",
            where=scenario.where("stages", index, "agents"),
            hint="use maml, reptile or multitask",
        )
    return env, agent


def check_meta_train(scenario: Scenario, index: int) -> None:
    """Build the env, the learner and a few tasks' envs; train nothing."""
    env, _ = _learner(scenario, index)
    env.close()
    stage = scenario.stages[index]
    check_tasks(scenario, index, draw_tasks(stage.tasks, 0, "check", 0, 3))


def run_meta_train_stage(context: StageContext) -> MetaTrainResult:
    """The table's entry (a finished stage of a resumed run is read back, an unfinished one
    starts again)."""
    from testbed.agents.common.nets import deterministic_torch  # torch: imported when used

    scenario, index, name = context.scenario, context.index, context.name
    if context.resume is not None:
        finished = context.resume.finished(name)
        if finished is not None:
            return MetaTrainResult.from_dict(finished)  # type: ignore[return-value]
    if context.options.out_dir is None:
        raise BadInput(f"meta_train stage {name!r} needs a run folder (--out) for its checkpoint")
    stage = scenario.stages[index]
    folder = Path(context.options.out_dir) / slug(name)
    folder.mkdir(parents=True, exist_ok=True)
    seed = stream_seed(scenario.stage_seed(index), scenario.seed_stream(index), 0)
    deterministic_torch(seed)
    env, agent = _learner(scenario, index)
    check_tasks(scenario, index, draw_tasks(stage.tasks, seed, "meta-train", 0, 3))
    make = functools.partial(build_env, scenario, index)
    batch = int(getattr(agent.config, "meta_batch", 10))
    context.progress.start(f"meta-train {name}", total=stage.iterations)
    started = time.perf_counter()
    curve: list[dict[str, Any]] = []
    with (folder / "meta_curve.csv").open("w", newline="", encoding="utf-8") as file:
        writer = None
        for it in range(stage.iterations):
            tasks = draw_tasks(stage.tasks, seed, "meta-train", it, batch)
            makers = [task_maker(make, {}, task) for task in tasks]
            metrics = agent.meta_step(makers, stream_seed(seed, "episodes", it) % 2**31)
            row = {
                "iteration": it + 1,
                **metrics,
                "seconds": round(time.perf_counter() - started, 3),
            }
            curve.append(row)
            if writer is None:
                writer = csv.DictWriter(file, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
            file.flush()
            status = "  ".join(
                f"{k} {fmt(v)}" for k, v in metrics.items() if k.startswith("return")
            )
            context.progress.update(completed=it + 1, status=status)
    seats = seat_assignment(scenario, index, list(env.possible_agents))
    agent_name = env.possible_agents[0]
    units = saved_units(scenario, stage.agents, {agent_name: agent}, [agent_name], seats, env)
    env.close()
    checkpoints = {}
    for key, unit in units.items():
        target = folder / "checkpoints" / "final" / unit.folder
        unit.save(target, {"iterations": stage.iterations, "env": stage.env.id,
                           "env_params": stage.env.params, "tasks": stage.tasks.model_dump(),
                           "scenario": scenario.name, "stage": name, "seed": seed})  # fmt: skip
        checkpoints[key] = str(target.resolve())
    return MetaTrainResult(
        name=name,
        env={"id": stage.env.id, "params": stage.env.params},
        seed=seed,
        iterations=stage.iterations,
        learner=stage.agents[seats[agent_name]].label,
        curve=curve,
        checkpoints=checkpoints,
        folder=str(folder),
        wall_time_s=time.perf_counter() - started,
    )


@dataclass
class MetaTrainView:
    """The terminal report of a meta_train stage."""

    result: MetaTrainResult
    run_dir: Path | None = None

    def __rich__(self) -> Panel:
        r = self.result
        table = Table(
            title="Meta-training (every tenth iteration and the last)", title_justify="left"
        )
        keys = [k for k in (r.curve[0] if r.curve else {}) if k != "seconds"]
        for key in keys:
            table.add_column(key, justify="right")
        for row in r.curve:
            if row["iteration"] % 10 == 0 or row is r.curve[-1]:
                table.add_row(*[str(row[k]) if k == "iteration" else fmt(row[k]) for k in keys])
        title = f"[bold]meta_train[/] {r.name} · [cyan]{r.env['id']}[/] · {r.learner}"
        return Panel(table, title=title, title_align="left")


def meta_train_markdown(result: MetaTrainResult) -> list[str]:
    last = result.curve[-1] if result.curve else {}
    shown = ", ".join(f"{k} {fmt(v)}" for k, v in last.items() if k not in ("iteration", "seconds"))
    return [
        f"{result.iterations} meta-iterations of {result.learner} in {result.wall_time_s:.1f} s; "
        f"last: {shown}.",
        "",
        f"Meta-checkpoint: `{result.folder}/checkpoints/final/`.",
        "",
    ]
