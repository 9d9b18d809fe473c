"""`tasks:` on a train stage: one set of learners trains across a task distribution.

    - kind: train
      env: {id: mpe/simple_spread_v3, params: {N: 4, max_agents: 4}}
      tasks: {params: {N: [2, 3, 4]}, every: 9600}
      agents: {"*": {id: mappo, params: {max_agents: 4}}}
      steps: 288000

The budget is cut into segments of `every` env steps; segment k trains on the task drawn
from stream `train-tasks` (draw k) of the stage's seed: the stage's env with the task's
params over its own (`params` as in testbed/meta/tasks.py). The learners are the stage's,
built for the stage's env, so a task's env may have fewer agents but no others, and the
same spaces for those it has: train on the largest task and pad what varies
(simple_spread's and MAPPO's `max_agents`). Every task the stage will draw is checked
before training; one breaking this is bad input. At the end of a segment the episodes in
flight are abandoned: the learners must end their trajectories there (`abandon_episodes`:
MAPPO, whose GAE bootstraps them with V(s')); others are bad input. Evaluations during training
use the stage's own env; evaluate stages score the checkpoint on other tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from testbed.errors import BadInput
from testbed.joint import group_of, groups
from testbed.meta.tasks import build_task_env, draw_tasks
from testbed.rollout.build import build_env, build_vec_env
from testbed.scenario.document import Scenario
from testbed.train.loop import train
from testbed.train.shaping import Shaper
from testbed.train.state import TrainState
from testbed.train.vector_loop import train_vectorized


def task_of(scenario: Scenario, index: int, seed: int, segment: int) -> dict[str, Any]:
    """The env params of segment `segment`."""
    return draw_tasks(scenario.stages[index].tasks, seed, "train-tasks", segment, 1)[0]


def check_task_env(scenario: Scenario, index: int, base: Any, env: Any, task: dict) -> None:
    """A task's env fits the learners built for the stage's env `base` (else BadInput)."""
    where = scenario.where("stages", index, "tasks", "params")
    extra = [a for a in env.possible_agents if a not in base.possible_agents]
    if extra:
        raise BadInput(
            f"task {task} has agents {extra} that the stage's env does not have",
            where=where,
            hint="give the stage's env the largest task's params (its learners act for all)",
        )
    for agent in env.possible_agents:
        for kind in ("observation_space", "action_space"):
            mine, theirs = getattr(env, kind)(agent), getattr(base, kind)(agent)
            if mine != theirs:
                raise BadInput(
                    f"task {task} changes {agent}'s {kind.replace('_', ' ')} from {theirs} "
                    f"to {mine}, which the stage's learners cannot read",
                    where=where,
                    hint="pad what varies, e.g. simple_spread's max_agents",
                )


def check_tasks(
    scenario: Scenario,
    index: int,
    base: Any,
    seed: int = 0,
    policies: Mapping[str, Any] | None = None,
) -> None:
    """Before training: the env of every task the stage will draw under `seed` builds and
    fits the learners, and the learners can end their episodes where a task switches."""
    stage = scenario.stages[index]
    segments = -(-stage.steps // stage.tasks.every)
    seen: set[str] = set()
    for segment in range(segments):
        task = task_of(scenario, index, seed, segment)
        if repr(sorted(task.items())) in seen:
            continue
        seen.add(repr(sorted(task.items())))
        env = build_task_env(scenario, index, task)
        try:
            check_task_env(scenario, index, base, env, task)
        finally:
            env.close()
    for unit in _units(policies or {}).values():
        if not callable(getattr(unit, "abandon_episodes", None)):
            raise BadInput(
                f"{type(unit).__name__} keeps its trajectories across steps and cannot end them "
                "where a task switches, so it cannot train on tasks: here",
                where=scenario.where("stages", index, "tasks"),
                hint="tasks: on a train stage trains mappo (it ends its episodes at a switch); "
                "one-agent meta-learners train on tasks in a meta_train stage",
            )


def _units(policies: Mapping[str, Any]) -> dict[int, Any]:
    """Each learner once: a joint group for its agents, else the agent's own learner."""
    units = {id(g): g for g, _ in groups(dict(policies)).values()}
    units.update({id(p): p for p in policies.values() if group_of(p) is None})
    return units


def train_on_tasks(
    scenario: Scenario,
    index: int,
    base: Any,
    policies: Mapping[str, Any],
    seed: int,
    state: TrainState,
    num_envs: int,
    shaping: Shaper | None,
    hooks: dict[str, Any],
) -> None:
    """Train segment by segment until the stage's budget (see the module docstring)."""
    stage = scenario.stages[index]
    every = stage.tasks.every
    check_tasks(scenario, index, base, seed, policies)
    while state.step < stage.steps:
        segment = state.step // every
        end = min(stage.steps, (segment + 1) * every)
        task = task_of(scenario, index, seed, segment)
        env = build_env(scenario, index, **task)
        try:
            check_task_env(scenario, index, base, env, task)
            present = {a: p for a, p in policies.items() if a in env.possible_agents}
            if num_envs == 1:
                train(env, present, end, seed, state=state, max_steps=stage.max_steps,
                      shaping=shaping, **hooks)  # fmt: skip
            else:
                vec_env = build_vec_env(scenario, index, num_envs, **task)
                try:
                    train_vectorized(
                        vec_env, present, end, seed, state=state, shaping=shaping, **hooks
                    )
                finally:
                    vec_env.close()
        finally:
            env.close()
        for unit in _units(policies).values():
            unit.abandon_episodes()
