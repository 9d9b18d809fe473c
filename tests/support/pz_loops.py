"""Plain PettingZoo loops for agent tests (no harness): one game or episode, total rewards."""

from __future__ import annotations

from typing import Any


def play_aec(env: Any, policies: dict[str, Any], seed: int) -> dict[str, float]:
    """One game of an AEC env with masked Dict observations; each agent's total reward."""
    env.reset(seed=seed)
    for i, agent in enumerate(env.possible_agents):
        policies[agent].reset(seed=seed * 100 + i)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    for agent in env.agent_iter():
        observation, reward, termination, truncation, _ = env.last()
        totals[agent] += float(reward)
        if termination or truncation:
            action = None
        else:
            action = policies[agent].act(observation, observation["action_mask"])
            assert observation["action_mask"][action], f"{agent} played illegal {action}"
        env.step(action)
    return totals


def play_parallel(env: Any, policies: dict[str, Any], seed: int) -> dict[str, float]:
    """One episode of a parallel env; each agent's total reward."""
    observations, _ = env.reset(seed=seed)
    for i, agent in enumerate(env.possible_agents):
        policies[agent].reset(seed=seed * 100 + i)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    while env.agents:
        actions = {}
        for agent in env.agents:
            actions[agent] = policies[agent].act(observations[agent])
            assert env.action_space(agent).contains(actions[agent]), (agent, actions[agent])
        observations, rewards, _, _, _ = env.step(actions)
        for agent, reward in rewards.items():
            totals[agent] += float(reward)
    return totals
