"""The vectorized training loop: learners act and learn on N copies of their env at once.

Per vector step (every copy one env step, testbed/rollout/vector.py):

1. each batched learner (`testbed.protocols.BatchLearner`) gets `explore_batch` for its
   agent's observations of all copies, a joint learner `explore_batch` for its group's;
   fixed policies (scripted partners, opponents) `act` copy by copy, one object per copy so
   that per-episode state stays per copy;
2. the vec env steps all copies (a copy whose episode ended is reset at once);
3. each learner gets `observe_batch` with one row per copy (`next_obs` the observation
   reached: the final one where the copy's episode ended), then `update()`.

The budget counts env steps over all copies (a vector step is N env steps); the last vector
step observes only the copies the budget still covers, so a run ends at exactly `total_steps`
(on-policy learners drop that partial step: their rollout could not complete). Episode e of
copy c is seeded `copy_seed(seed, c, e)` (a run resumed at step k: from
`stream_seed(seed, "resume", k)`, so it plays new episodes); learners are reset once with
`stream_seed(seed, "member", i)`, fixed policies at every episode of their copy, so the same
seed and N give the same curve.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from testbed import registry
from testbed.errors import BadInput
from testbed.joint import groups
from testbed.protocols import Policy
from testbed.rollout.vector import TransitionBatch, VecEnv, VecObs, VecStep, copy_seed
from testbed.seeding import stream_seed
from testbed.train.shaping import Shaper
from testbed.train.state import (
    EpisodeHook,
    EpisodeStats,
    StepHook,
    TrainState,
    group_name,
    learns,
)


def is_batch_learner(policy: Any) -> bool:
    """A learner with the batched methods (explore_batch, observe_batch, update)."""
    return all(
        callable(getattr(policy, m, None)) for m in ("explore_batch", "observe_batch", "update")
    )


def batch_learners(policies: Mapping[str, Policy]) -> tuple[dict[str, Any], list[tuple]]:
    """({agent: its own batched learner}, [(joint batched learner, its agents)])."""
    joint = [(g, names) for g, names in groups(policies).values() if is_batch_learner(g)]
    in_joint = {a for _, names in joint for a in names}
    single = {a: p for a, p in policies.items() if a not in in_joint and is_batch_learner(p)}
    return single, joint


def choose_num_envs(scenario: Any, index: int, env: Any, policies: Mapping[str, Policy]) -> int:
    """The copies a train stage steps: its `num_envs`, else the smallest default of its
    learners (`default_num_envs`); 1 for turn-based envs, for learners that cannot batch and
    for envs whose agents leave mid-episode. Asking for more where that cannot work is bad
    input."""
    stage = scenario.stages[index]
    where = scenario.where("stages", index, "num_envs")
    asked = stage.num_envs
    learners = [p for p in policies.values() if learns(p)]
    units = list({id(u): u for u in (getattr(p, "group", None) or p for p in learners)}.values())
    blockers = []
    if hasattr(env, "agent_iter"):
        blockers.append("the env is turn-based (AEC)")
    spec = registry.ENVS.get(stage.env.id)
    if spec is not None and spec.agents_leave and len(env.possible_agents) > 1:
        blockers.append(f"agents of {stage.env.id!r} leave before the episode ends")
    blockers += [
        f"{type(u).__name__} does not train on several copies" for u in units
        if not is_batch_learner(u)
    ]  # fmt: skip
    if blockers:
        if asked is not None and asked > 1:
            raise BadInput(f"num_envs: {asked} cannot work: {'; '.join(blockers)}", where=where,
                           hint="use num_envs: 1")  # fmt: skip
        chosen = 1
    elif asked is not None:
        chosen = asked
    elif spec is None:  # code the scenario names: one copy unless asked
        chosen = 1
    else:
        chosen = min((int(getattr(u, "default_num_envs", 1)) for u in units), default=1)
    if chosen == 1 and stage.vectorization != "auto":
        raise BadInput(
            f"vectorization: {stage.vectorization} has no effect: this stage steps one copy "
            f"of its env" + (f" ({'; '.join(blockers)})" if blockers else ""),
            where=scenario.where("stages", index, "vectorization"),
            hint="set num_envs: N (more than 1), or leave vectorization out",
        )
    return chosen


def train_vectorized(
    vec_env: VecEnv,
    policies: Mapping[str, Policy],
    total_steps: int,
    seed: int,
    *,
    state: TrainState | None = None,
    on_step: StepHook | None = None,
    on_episode: EpisodeHook | None = None,
    shaping: Shaper | None = None,
) -> TrainState:
    """Train until `state.step == total_steps` env steps (see the module docstring); with
    `shaping`, learners observe shaped rewards (returns stay the env's)."""
    state = state or TrainState()
    n, agents = vec_env.num_envs, list(vec_env.possible_agents)
    single, joint = batch_learners(policies)
    learning = set(single) | {a for _, names in joint for a in names}
    fixed = {a: [copy.deepcopy(p) for _ in range(n)] for a, p in policies.items()
             if a not in learning}  # fmt: skip
    order = {a: i for i, a in enumerate(policies)}
    for agent, learner in single.items():
        learner.reset(stream_seed(seed, "member", order[agent]))
    for group, names in joint:
        group.reset(stream_seed(seed, "member", order[names[0]]))
    episodes = np.zeros(n, int)  # episodes each copy started
    # a resumed run's copies play new episodes, not those the run started with
    root = seed if state.step == 0 else stream_seed(seed, "resume", state.step)

    def reset_fixed(c: int) -> None:
        for agent, per_copy in fixed.items():
            episode_seed = copy_seed(root, c, int(episodes[c]))
            per_copy[c].reset(stream_seed(episode_seed, "member", order[agent]))

    obs = vec_env.reset(root)
    for c in range(n):
        reset_fixed(c)
    returns = {a: np.zeros(n) for a in agents}
    costs = {a: np.zeros(n) for a in agents}
    lengths = np.zeros(n, int)
    while state.step < total_steps:
        rows = min(n, total_steps - state.step)  # the copies this step's budget covers
        actions = _actions(obs, single, joint, fixed, n)
        step = vec_env.step(actions)
        state.step += rows
        for agent, learner in single.items():
            learner.observe_batch(_transitions(agent, obs, actions, step, rows, shaping))
            _log(state, agent, learner.update())
        for group, names in joint:
            group.observe_batch(
                {a: _transitions(a, obs, actions, step, rows, shaping) for a in names}
            )
            _log(state, group_name(names), group.update())
        lengths += 1
        for agent in agents:
            returns[agent] += step.rewards[agent]
            costs[agent] += step.costs[agent]
        for c in np.flatnonzero(step.done[:rows]):
            stats = EpisodeStats(
                state.episodes,
                state.step,
                int(lengths[c]),
                {a: float(returns[a][c]) for a in agents},
                {a: float(costs[a][c]) for a in agents},
            )
            state.episodes += 1
            episodes[c] += 1
            lengths[c] = 0
            for agent in agents:
                returns[agent][c] = costs[agent][c] = 0.0
            reset_fixed(int(c))
            if on_episode is not None:
                on_episode(stats, state)
        obs = VecObs(step.observations, step.action_masks)
        if on_step is not None:
            on_step(state)
    return state


def _actions(
    obs: VecObs, single: dict[str, Any], joint: list[tuple], fixed: dict[str, list], n: int
) -> dict[str, np.ndarray]:
    actions: dict[str, np.ndarray] = {}
    for agent, learner in single.items():
        actions[agent] = np.asarray(
            learner.explore_batch(obs.observations[agent], obs.action_masks.get(agent))
        )
    for group, names in joint:
        chosen = group.explore_batch(
            {a: obs.observations[a] for a in names}, {a: obs.action_masks.get(a) for a in names}
        )
        actions.update({a: np.asarray(chosen[a]) for a in names})
    for agent, per_copy in fixed.items():
        masks = obs.action_masks.get(agent)
        actions[agent] = np.stack(
            [
                np.asarray(
                    per_copy[c].act(obs.observations[agent][c], None if masks is None else masks[c])
                )
                for c in range(n)
            ]
        )
    return actions


def _transitions(
    agent: str,
    obs: VecObs,
    actions: dict[str, np.ndarray],
    step: VecStep,
    rows: int,
    shaping: Shaper | None = None,
) -> TransitionBatch:
    """The first `rows` copies' transitions of one agent (rewards shaped with `shaping`)."""
    mask, next_mask = obs.action_masks.get(agent), step.next_action_mask(agent)
    reward = np.asarray(step.rewards[agent][:rows], np.float32)
    if shaping is not None:
        reward = shaping.batch(
            agent, obs.observations[agent][:rows], step.next_observation(agent)[:rows], reward,
            step.terminated[agent][:rows], step.done[:rows],
        )  # fmt: skip
    return TransitionBatch(
        obs=obs.observations[agent][:rows],
        action=actions[agent][:rows],
        reward=reward,
        cost=np.asarray(step.costs[agent][:rows], np.float32),
        next_obs=step.next_observation(agent)[:rows],
        terminated=np.asarray(step.terminated[agent][:rows], bool),
        truncated=np.asarray(step.truncated[agent][:rows], bool),
        action_mask=None if mask is None else mask[:rows],
        next_action_mask=None if next_mask is None else next_mask[:rows],
    )


def _log(state: TrainState, name: str, metrics: dict[str, float]) -> None:
    if metrics:
        state.metrics[name] = metrics
