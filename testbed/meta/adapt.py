"""`adapt:` in an evaluate stage: every meta-learner is evaluated the same way, on held-out
tasks (the stage's `tasks:`, drawn from its `held-out` stream): for each task, a fresh copy
of the agent (its checkpoint, or a new one) samples `episodes` episodes (return before
adaptation), then takes `steps` adaptation steps, each on `episodes` new episodes, and
samples fresh episodes after each step. The stage reports the mean return of the sampled
episodes after 0, 1, ..., `steps` steps, with 95 % t-intervals over tasks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from testbed.errors import BadInput
from testbed.evaluate.stats import summarize
from testbed.meta.tasks import build_task_env, draw_tasks, task_maker
from testbed.rollout.build import build_env, build_env_or_fail, build_seats, seat_assignment
from testbed.scenario.document import Scenario
from testbed.scenario.models import Count, Strict
from testbed.seeding import stream_seed


class AdaptSpec(Strict):
    """Adaptation on each held-out task before it is scored."""

    steps: Count = 1
    """Adaptation (gradient) steps; returns are reported after each."""
    episodes: Count = 20
    """Episodes sampled per adaptation step (K), and to score each step."""


def adaptive_agent(scenario: Scenario, index: int) -> tuple[Any, Any]:
    """(env, the stage's one agent), which must be able to `adapt`."""
    stage = scenario.stages[index]
    env = build_env_or_fail(scenario, index)
    if len(env.possible_agents) != 1:
        env.close()
        raise BadInput(
            f"`adapt:` evaluates one-agent envs; {stage.env.id!r} has {len(env.possible_agents)}",
            where=scenario.where("stages", index, "adapt"),
        )
    seats = seat_assignment(scenario, index, list(env.possible_agents))
    agent = build_seats(
        scenario, stage.agents, seats, env, lambda p: scenario.where("stages", index, "agents", p)
    )[env.possible_agents[0]]
    if not callable(getattr(agent, "adapt", None)):
        env.close()
        raise BadInput(
            f"{type(agent).__name__} cannot adapt to a task (it has no `adapt`)",
            where=scenario.where("stages", index, "agents"),
            hint="use a meta-learner (maml, reptile, multitask) or its checkpoint",
        )
    return env, agent


def run_adaptation(
    scenario: Scenario, index: int, on_task: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Adapt to every held-out task; metrics (adaptation curve over tasks, per-task returns)."""
    from testbed.agents.common.nets import deterministic_torch  # torch: imported when used

    stage = scenario.stages[index]
    seed = stream_seed(scenario.stage_seed(index), scenario.seed_stream(index), 0)
    tasks = draw_tasks(stage.tasks, seed, "held-out", 0, stage.tasks.count)
    make = functools.partial(build_env, scenario, index)
    check_tasks(scenario, index, tasks)
    per_task = []
    for i, task in enumerate(tasks):
        task_seed = stream_seed(seed, "adapt", i)
        deterministic_torch(task_seed)
        env, agent = adaptive_agent(scenario, index)
        env.close()
        per_task.append(
            agent.adapt(
                task_maker(make, {}, task),
                stage.adapt.steps,
                stage.adapt.episodes,
                task_seed % 2**31,
            )  # fmt: skip
        )
        if on_task is not None:
            on_task(i + 1)
    steps = list(range(stage.adapt.steps + 1))
    return {
        "adaptation": {
            "steps": steps,
            "return": [summarize([r[s] for r in per_task]).to_dict() for s in steps],
            "episodes_per_step": stage.adapt.episodes,
        },
        "tasks": tasks,
        "per_task_returns": per_task,
    }


def check_tasks(scenario: Scenario, index: int, tasks: list[dict[str, Any]]) -> None:
    """Each task's env builds (its parameters fit the env); else one BadInput at `tasks`."""
    for task in tasks[:3]:
        build_task_env(scenario, index, task).close()
