"""Training from a dataset (`dataset:` in a train stage): every learner with `load_data`
gets its agent's transitions (testbed/datasets: one dataset per agent in multi-agent envs);
learners that only learn offline then take one gradient step each per unit of `steps`, with
no env interaction. Evaluation on held-out seeds and checkpoints stay those of
testbed/train/stage.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from testbed.datasets.store import agent_dataset_id, datasets_root, load_episodes
from testbed.datasets.transitions import to_transitions
from testbed.errors import BadInput
from testbed.train.state import StepHook, TrainState, is_learner


def learns_offline(policy: Any) -> bool:
    """Learns from a dataset: has `load_data` and `update`."""
    return all(callable(getattr(policy, m, None)) for m in ("load_data", "update"))


def offline_only(policy: Any) -> bool:
    """Learns from a dataset and never in an env (no explore/observe)."""
    return learns_offline(policy) and not is_learner(policy)


def load_datasets(
    dataset_id: str,
    env: Any,
    policies: Mapping[str, Any],
    learners: list[str],
    *,
    where: str | None = None,
) -> dict[str, int]:
    """Hand each learner with `load_data` its agent's dataset; {agent: transitions}."""
    root = datasets_root()
    n_agents = len(env.possible_agents)
    sizes = {}
    for agent in learners:
        policy = policies[agent]
        if not learns_offline(policy):
            continue
        obs_space, act_space = env.observation_space(agent), env.action_space(agent)
        agent_id = agent_dataset_id(dataset_id, agent, n_agents)
        episodes = load_episodes(root, agent_id, obs_space, act_space, where=where)
        try:
            data = to_transitions(episodes, obs_space, act_space)
        except BadInput as exc:
            raise BadInput(f"dataset {agent_id!r}: {exc.message}", where=where) from None
        policy.load_data(data)
        sizes[agent] = len(data["rewards"])
    return sizes


def train_offline(
    policies: Mapping[str, Any],
    learners: list[str],
    total_steps: int,
    state: TrainState,
    on_step: StepHook | None = None,
) -> TrainState:
    """One `update()` (a gradient step) of every learner per step until `total_steps`."""
    while state.step < total_steps:
        for agent in learners:
            metrics = policies[agent].update()
            if metrics:
                state.metrics[agent] = metrics
        state.step += 1
        if on_step is not None:
            on_step(state)
    return state
