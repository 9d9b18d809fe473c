"""One episode of a PettingZoo env (Parallel or AEC) played by a Team.

Records per-agent return, number of actions taken, total cost, the largest single-step cost and
per-constraint cost parts (`infos[a]["cost"]`, `infos[a]["costs"]`; 0 when absent). Agents may
join or leave mid-episode; legal-action masks are taken from the observation (`action_mask` key)
or the info and handed to the agent. The same env, team and seed give the same record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pettingzoo import AECEnv, ParallelEnv

from testbed.protocols import Team

StepHook = Callable[[int, dict[str, Any], dict[str, float], dict[str, float]], None]


@dataclass
class AgentRecord:
    """What one agent did in one episode."""

    ret: float = 0.0
    steps: int = 0
    cost: float = 0.0
    max_step_cost: float = 0.0
    costs: dict[str, float] = field(default_factory=dict)
    max_step_costs: dict[str, float] = field(default_factory=dict)
    interventions: int | None = None  # shield overrides, when the policy reports them
    usage: dict[str, float] = field(default_factory=dict)  # e.g. language-model calls, tokens

    def add(self, reward: float, info: dict[str, Any]) -> float:
        self.ret += float(reward)
        step_cost = float(info.get("cost", 0.0))
        self.cost += step_cost
        if step_cost > self.max_step_cost:
            self.max_step_cost = step_cost
        parts = info.get("costs")
        if parts:
            for name, value in parts.items():
                value = float(value)
                self.costs[name] = self.costs.get(name, 0.0) + value
                if value > self.max_step_costs.get(name, 0.0):
                    self.max_step_costs[name] = value
        return step_cost


@dataclass
class EpisodeRecord:
    """One finished episode: its seed, length and every agent's record."""

    seed: int
    length: int
    agents: dict[str, AgentRecord]
    truncated_by_harness: bool = False

    @property
    def team_return(self) -> float:
        return sum(a.ret for a in self.agents.values())

    @property
    def team_cost(self) -> float:
        return sum(a.cost for a in self.agents.values())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpisodeRecord:
        """The record `to_dict` wrote (a line of episodes.jsonl)."""
        agents = {
            name: AgentRecord(
                ret=a["return"],
                steps=a["steps"],
                cost=a["cost"],
                max_step_cost=a["max_step_cost"],
                costs=dict(a.get("costs") or {}),
                max_step_costs=dict(a.get("max_step_costs") or {}),
                interventions=a.get("interventions"),
                usage=dict(a.get("usage") or {}),
            )
            for name, a in data["agents"].items()
        }
        return cls(data["seed"], data["length"], agents, data.get("truncated_by_harness", False))

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "length": self.length,
            "truncated_by_harness": self.truncated_by_harness,
            "agents": {
                name: {
                    "return": rec.ret,
                    "steps": rec.steps,
                    "cost": rec.cost,
                    "max_step_cost": rec.max_step_cost,
                    "costs": dict(rec.costs),
                    "max_step_costs": dict(rec.max_step_costs),
                    "interventions": rec.interventions,
                    **({"usage": dict(rec.usage)} if rec.usage else {}),
                }
                for name, rec in self.agents.items()
            },
        }


def action_mask(observation: Any, info: dict[str, Any] | None) -> np.ndarray | None:
    """The legal-action mask PettingZoo envs publish in the observation dict or the info."""
    if isinstance(observation, dict) and "action_mask" in observation:
        return observation["action_mask"]
    if info and "action_mask" in info:
        return info["action_mask"]
    return None


def _finish(
    seed: int, length: int, records: dict[str, AgentRecord], team: Team, truncated: bool = False
) -> EpisodeRecord:
    """Close an episode: read shield intervention counts and resource use (`usage`) from
    policies that keep them."""
    counts = getattr(team, "interventions", None)
    if callable(counts):
        for agent, count in counts().items():
            if agent in records:
                records[agent].interventions = count
    usage = getattr(team, "usage", None)
    if callable(usage):
        for agent, used in usage().items():
            if agent in records:
                records[agent].usage = used
    return EpisodeRecord(seed, length, records, truncated_by_harness=truncated)


def run_parallel(
    env: ParallelEnv,
    team: Team,
    seed: int,
    max_steps: int | None = None,
    on_step: StepHook | None = None,
) -> EpisodeRecord:
    observations, infos = env.reset(seed=seed)
    team.reset(seed=seed)
    records = {agent: AgentRecord() for agent in env.agents}
    length = 0
    while env.agents:
        if max_steps is not None and length >= max_steps:
            return _finish(seed, length, records, team, truncated=True)
        live = env.agents
        masks = {a: action_mask(observations[a], infos.get(a)) for a in live}
        actions = team.act({a: observations[a] for a in live}, masks)
        observations, rewards, terminations, truncations, infos = env.step(actions)
        length += 1
        step_costs: dict[str, float] = {}
        for agent in rewards:
            record = records.get(agent)
            if record is None:  # joined mid-episode
                record = records[agent] = AgentRecord()
            record.steps += agent in actions
            step_costs[agent] = record.add(rewards[agent], infos.get(agent, {}))
        if on_step is not None:
            on_step(length, actions, rewards, step_costs)
    return _finish(seed, length, records, team)


def run_aec(
    env: AECEnv,
    team: Team,
    seed: int,
    max_steps: int | None = None,
    on_step: StepHook | None = None,
) -> EpisodeRecord:
    env.reset(seed=seed)
    team.reset(seed=seed)
    records: dict[str, AgentRecord] = {agent: AgentRecord() for agent in env.agents}
    length = 0
    for agent in env.agent_iter():
        # `last()` gives the reward accumulated since this agent last acted, so summing it over
        # the agent's turns gives its episode return.
        observation, reward, termination, truncation, info = env.last()
        record = records.get(agent)
        if record is None:
            record = records[agent] = AgentRecord()
        step_cost = record.add(reward, info)
        if termination or truncation:
            env.step(None)
            continue
        if max_steps is not None and length >= max_steps:
            return _finish(seed, length, records, team, truncated=True)
        mask = action_mask(observation, info)
        action = team.act({agent: observation}, {agent: mask})[agent]
        env.step(action)
        record.steps += 1
        length += 1
        if on_step is not None:
            on_step(length, {agent: action}, {agent: float(reward)}, {agent: step_cost})
    return _finish(seed, length, records, team)


def run_episode(
    env: Any,
    team: Team,
    seed: int,
    max_steps: int | None = None,
    on_step: StepHook | None = None,
) -> EpisodeRecord:
    """Play one episode with either PettingZoo API."""
    if (
        isinstance(env, ParallelEnv)
        or hasattr(env, "possible_agents")
        and not hasattr(env, "agent_iter")
    ):
        return run_parallel(env, team, seed, max_steps, on_step)
    return run_aec(env, team, seed, max_steps, on_step)
