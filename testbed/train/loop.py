"""The training loop: learners act in a PettingZoo ParallelEnv and learn from each step
(turn-based AEC envs go to `testbed.train.turns.train_turns`, same contract).

For every env step, each live agent whose policy is a Learner gets `explore`, then
`observe(transition)`, then `update()`; other policies (fixed opponents, scripted partners)
just `act`. Agents that are `Member`s of one joint learner (testbed/joint.py) are driven as a
group: one `explore` for the group's live agents, one `observe({agent: transition})`, one
`update()` per step; its metrics are logged under the group's name (agents joined by "+").
The budget counts env steps. Episode k of a run is seeded by
`stream_seed(seed, "train", k)`, so with deterministic torch settings the same seed gives
the same learning curve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from testbed.joint import groups
from testbed.protocols import Learner, Policy
from testbed.rollout.episode import action_mask, run_episode
from testbed.rollout.team import PolicyTeam
from testbed.seeding import stream_seed
from testbed.train.shaping import Shaper
from testbed.train.state import (
    EpisodeHook,
    EpisodeStats,
    StepHook,
    TrainState,
    group_name,
    is_learner,
    learns,
)
from testbed.train.turns import train_turns


def run_experiments(env: ParallelEnv, learners: Mapping[str, Any], seed: int, budget: int) -> int:
    """Let learners that experiment before learning (`experiment(env, agent, seed, budget)`,
    e.g. causal_q's interventions) do so in the env; the env steps they used, which count in
    the budget."""
    used = 0
    for index, (agent, learner) in enumerate(learners.items()):
        experiment = getattr(learner, "experiment", None)
        if callable(experiment):
            seed_k = stream_seed(seed, "experiment", index)
            used += int(experiment(env, agent, seed_k, budget - used))
    return used


def train(
    env: ParallelEnv,
    policies: Mapping[str, Policy],
    total_steps: int,
    seed: int,
    *,
    state: TrainState | None = None,
    max_steps: int | None = None,
    on_step: StepHook | None = None,
    on_episode: EpisodeHook | None = None,
    shaping: Shaper | None = None,
) -> TrainState:
    """Run until `state.step == total_steps` (an episode cut by the budget is abandoned).
    With `shaping`, learners observe shaped rewards; returns stay the env's."""
    if hasattr(env, "agent_iter"):
        if shaping is not None:
            raise TypeError("shaping works in parallel envs, not turn-based (AEC) ones")
        if any(is_learner(group) for group, _ in groups(policies).values()):
            raise TypeError("joint (multi-agent) learners train in parallel envs, not AEC ones")
        return train_turns(
            env,
            policies,
            total_steps,
            seed,
            state=state,
            max_steps=max_steps,
            on_step=on_step,
            on_episode=on_episode,
        )
    state = state or TrainState()
    learners = {a: p for a, p in policies.items() if is_learner(p)}
    if state.step == 0:
        state.step += run_experiments(env, learners, seed, total_steps)
        if state.step and on_step is not None:  # evaluations and checkpoints due by now
            on_step(state)
    joint = [(g, names) for g, names in groups(policies).values() if is_learner(g)]
    in_joint = {a for _, names in joint for a in names}
    while state.step < total_steps:
        episode_seed = stream_seed(seed, "train", state.episodes)
        observations, infos = env.reset(seed=episode_seed)
        for index, policy in enumerate(policies.values()):
            policy.reset(stream_seed(episode_seed, "member", index))
        returns = {a: 0.0 for a in env.agents}
        costs = {a: 0.0 for a in env.agents}
        length = 0
        while env.agents and state.step < total_steps:
            live = list(env.agents)
            masks = {a: action_mask(observations[a], infos.get(a)) for a in live}
            actions = {
                a: (learners[a].explore if a in learners else policies[a].act)(
                    observations[a], masks[a]
                )
                for a in live
                if a not in in_joint
            }
            for group, names in joint:
                present = [a for a in names if a in masks]
                if present:
                    actions.update(
                        group.explore(
                            {a: observations[a] for a in present}, {a: masks[a] for a in present}
                        )
                    )
            next_obs, rewards, terminations, truncations, next_infos = env.step(actions)
            length += 1
            state.step += 1
            cut = max_steps is not None and length >= max_steps
            transitions = {}
            for agent in live:
                info = next_infos.get(agent, {})
                cost = float(info.get("cost", 0.0))
                returns[agent] = returns.get(agent, 0.0) + float(rewards.get(agent, 0.0))
                costs[agent] = costs.get(agent, 0.0) + cost
                if agent not in learners and agent not in in_joint:
                    continue
                transitions[agent] = {
                    "obs": observations[agent],
                    "action": actions[agent],
                    "reward": float(rewards.get(agent, 0.0)),
                    "cost": cost,
                    "next_obs": next_obs.get(agent, observations[agent]),
                    "terminated": bool(terminations.get(agent, False)),
                    "truncated": bool(truncations.get(agent, False)) or cut,
                    "action_mask": masks[agent],
                    "next_action_mask": action_mask(next_obs.get(agent), info),
                }
                if shaping is not None:
                    transitions[agent] = shaping.one(agent, transitions[agent])
                learner = learners.get(agent)
                if learner is not None:
                    learner.observe(transitions[agent])
                    metrics = learner.update()
                    if metrics:
                        state.metrics[agent] = metrics
            for group, names in joint:
                batch = {a: transitions[a] for a in names if a in transitions}
                if batch:
                    group.observe(batch)
                    metrics = group.update()
                    if metrics:
                        state.metrics[group_name(names)] = metrics
            observations, infos = next_obs, next_infos
            if on_step is not None:
                on_step(state)
            if cut:
                break
        if env.agents and not (max_steps is not None and length >= max_steps):
            break  # budget ran out mid-episode: not a finished episode
        stats = EpisodeStats(state.episodes, state.step, length, returns, costs)
        state.episodes += 1
        if on_episode is not None:
            on_episode(stats, state)
    return state


def evaluate(
    env: Any,
    policies: Mapping[str, Policy],
    seed: int,
    episodes: int,
    max_steps: int | None = None,
    agents: Sequence[str] | None = None,
) -> tuple[float, float]:
    """Mean return and cost of the evaluation policies (`act`) over held-out episodes,
    summed over `agents` (default: all, the team), e.g. the learners facing fixed opponents."""
    team = PolicyTeam(policies)
    records = [
        run_episode(env, team, stream_seed(seed, "eval", k), max_steps) for k in range(episodes)
    ]

    def total(record: Any, field: str) -> float:
        return sum(
            getattr(a, field)
            for name, a in record.agents.items()
            if agents is None or name in agents
        )

    return (
        float(np.mean([total(r, "ret") for r in records])),
        float(np.mean([total(r, "cost") for r in records])),
    )


__all__ = [
    "EpisodeStats",
    "Learner",
    "TrainState",
    "evaluate",
    "group_name",
    "is_learner",
    "learns",
    "train",
]
