"""The training loop for turn-based (AEC) PettingZoo envs: learners learn from their own turns.

Same contract as `testbed.train.loop.train` (budget in env steps, here plies; episode k seeded
by `stream_seed(seed, "train", k)`; policies reset with `stream_seed(episode_seed, "member", i)`;
an episode cut by the budget is abandoned; `max_steps` plies truncate an episode), with the
bookkeeping a turn-based game needs:

- a learner's transition runs from its observation at one of its turns to its observation at
  its next turn; the reward is what PettingZoo's `last()` reports at that next turn, i.e. every
  reward it received in between, its own move's and the opponents' moves' included (a reward
  received before an agent's first move belongs to no transition; it counts in the return);
- when the game ends, every learner gets a terminal transition (`terminated` or `truncated`
  as the env says) from its last move to its final observation, at the turn the env hands it
  to clear it (`step(None)`);
- `action_mask` is the mask the learner acted under, `next_action_mask` the one of its next
  observation (all zeros at the end of a game in PettingZoo classic envs);
- `cost` is `info["cost"]` as read at the learner's next turn (as `testbed.rollout.episode`
  records it);
- a `max_steps` cut closes every learner's open transition as truncated, with the reward the
  env accumulated for it since its move (`_cumulative_rewards`, public through wrappers).

Policies that are not learners (fixed opponents, frozen snapshots) just `act`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from testbed.protocols import Policy
from testbed.rollout.episode import action_mask
from testbed.seeding import stream_seed
from testbed.train.state import EpisodeHook, EpisodeStats, StepHook, TrainState, is_learner


def train_turns(
    env: Any,
    policies: Mapping[str, Policy],
    total_steps: int,
    seed: int,
    *,
    state: TrainState | None = None,
    max_steps: int | None = None,
    on_step: StepHook | None = None,
    on_episode: EpisodeHook | None = None,
) -> TrainState:
    """Run until `state.step == total_steps` plies (an episode cut by the budget is abandoned)."""
    if not hasattr(env, "agent_iter"):
        raise TypeError("train_turns needs a turn-based (AEC) env; use testbed.train.loop.train")
    state = state or TrainState()
    while state.step < total_steps:
        stats = play_training_episode(
            env,
            policies,
            stream_seed(seed, "train", state.episodes),
            state,
            total_steps,
            max_steps=max_steps,
            on_step=on_step,
        )
        if stats is None:
            break  # budget ran out mid-episode: not a finished episode
        state.episodes += 1
        if on_episode is not None:
            on_episode(stats, state)
    return state


def play_training_episode(
    env: Any,
    policies: Mapping[str, Policy],
    episode_seed: int,
    state: TrainState,
    total_steps: int,
    *,
    max_steps: int | None = None,
    on_step: StepHook | None = None,
) -> EpisodeStats | None:
    """One training episode of an AEC env; None when the budget ended it first.

    The learners are the policies that have explore/observe/update; `state.step` counts plies.
    `state.episodes` is not advanced here (the caller does, after its own bookkeeping).
    """
    env.reset(seed=episode_seed)
    for index, policy in enumerate(policies.values()):
        policy.reset(stream_seed(episode_seed, "member", index))
    learners = {a: p for a, p in policies.items() if is_learner(p)}
    returns = {a: 0.0 for a in env.agents}
    costs = {a: 0.0 for a in env.agents}
    # learner -> (observation, action, mask) of its last move, until its next observation
    pending: dict[str, tuple[Any, Any, Any]] = {}
    length = 0

    def close(agent: str, reward: float, cost: float, obs: Any, mask: Any, **ends: bool) -> None:
        before, action, before_mask = pending.pop(agent)
        learner = learners[agent]
        learner.observe(
            {
                "obs": before,
                "action": action,
                "reward": reward,
                "cost": cost,
                "next_obs": obs,
                "terminated": ends.get("terminated", False),
                "truncated": ends.get("truncated", False),
                "action_mask": before_mask,
                "next_action_mask": mask,
            }
        )
        metrics = learner.update()
        if metrics:
            state.metrics[agent] = metrics

    for agent in env.agent_iter():
        obs, reward, terminated, truncated, info = env.last()
        info = info or {}
        reward, cost = float(reward), float(info.get("cost", 0.0))
        returns[agent] = returns.get(agent, 0.0) + reward
        costs[agent] = costs.get(agent, 0.0) + cost
        mask = action_mask(obs, info)
        over = bool(terminated or truncated)
        cut = not over and max_steps is not None and length >= max_steps
        if agent in pending:
            close(
                agent, reward, cost, obs, mask,
                terminated=bool(terminated), truncated=bool(truncated) or cut,
            )  # fmt: skip
        if over:
            env.step(None)
            continue
        if cut:
            _close_others_at_cut(env, pending, returns, costs, close)
            break
        if state.step >= total_steps:
            return None
        policy = policies[agent]
        action = (policy.explore if agent in learners else policy.act)(obs, mask)
        if agent in learners:
            pending[agent] = (obs, action, mask)
        env.step(action)
        length += 1
        state.step += 1
        if on_step is not None:
            on_step(state)
    return EpisodeStats(state.episodes, state.step, length, returns, costs)


def _close_others_at_cut(
    env: Any,
    pending: dict[str, tuple[Any, Any, Any]],
    returns: dict[str, float],
    costs: dict[str, float],
    close: Any,
) -> None:
    """At a `max_steps` cut, end the open transitions of learners not on turn (truncated)."""
    cumulative = getattr(env, "_cumulative_rewards", {}) or {}
    for other in list(pending):
        reward = float(cumulative.get(other, 0.0))
        info = (env.infos.get(other) if hasattr(env, "infos") else None) or {}
        cost = float(info.get("cost", 0.0))
        returns[other] = returns.get(other, 0.0) + reward
        costs[other] = costs.get(other, 0.0) + cost
        obs = env.observe(other)
        close(other, reward, cost, obs, action_mask(obs, info), truncated=True)


__all__ = ["play_training_episode", "train_turns"]
