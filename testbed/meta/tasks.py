"""Task distributions (`tasks:`): env parameters drawn per task, seeded like everything else.

    tasks:
      params:
        goal_angle: {low: 0.0, high: 6.283}   # uniform in a range
        length: [0.5, 1.0, 1.5]               # or one of a list
      count: 20                               # tasks an evaluate stage adapts to

A task is the stage's env with these parameters over its own `env.params`. Draws come from a
named stream of the stage's seed: a meta-train stage draws fresh tasks every iteration from
`meta-train`, an evaluate stage its `count` held-out tasks from `held-out`, so the two never
share a draw (ranges: different tasks almost surely; lists may repeat values).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, model_validator

from testbed.errors import BadInput
from testbed.rollout.build import build_env
from testbed.scenario.models import Count, Number, Strict
from testbed.seeding import stream_seed


class Range(Strict):
    """A parameter drawn uniformly from [low, high]."""

    low: Number
    high: Number

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        return self


class TaskSpec(Strict):
    """A distribution of tasks: env parameters drawn per task."""

    params: dict[str, Range | list[Any]] = Field(min_length=1)
    """Env parameter -> `{low, high}` (uniform) or a list (one value drawn uniformly)."""
    count: Count = 20
    """Held-out tasks an evaluate stage with `adapt:` draws."""

    @model_validator(mode="after")
    def _lists_not_empty(self) -> TaskSpec:
        for name, values in self.params.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"params.{name}: give at least one value")
        return self


def draw_tasks(spec: TaskSpec, seed: int, stream: str, index: int, count: int) -> list[dict]:
    """`count` tasks' env parameters (draw `index` of the named stream of `seed`)."""
    rng = np.random.default_rng(stream_seed(seed, stream, index))
    tasks = []
    for _ in range(count):
        task: dict[str, Any] = {}
        for name, values in spec.params.items():
            if isinstance(values, Range):
                task[name] = float(rng.uniform(values.low, values.high))
            else:
                task[name] = values[int(rng.integers(len(values)))]
        tasks.append(task)
    return tasks


def task_maker(make_env: Any, base: dict[str, Any], task: dict[str, Any]) -> Any:
    """A callable building one env of `task` (its params over the stage's `base` params)."""
    params = {**base, **task}
    return lambda: make_env(**params)


def build_task_env(scenario: Any, index: int, task: dict[str, Any]) -> Any:
    """Stage `index`'s env with a task's params; a task that does not build it is one
    BadInput at the stage's `tasks.params`."""
    try:
        return build_env(scenario, index, **task)
    except BadInput:
        raise
    except Exception as exc:
        raise BadInput(
            f"a task's env params {task} do not build {scenario.stages[index].env.id!r}: "
            f"{type(exc).__name__}: {exc}",
            where=scenario.where("stages", index, "tasks", "params"),
        ) from None
