"""MAPPO-Lagrangian (joint learner): training through the harness on safe_navigation, state
round-trips, determinism, and, on a one-step two-agent constrained bandit, the safe arms for
MAPPO-Lagrangian (team and per-agent constraints) where plain MAPPO takes the costly ones."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from testbed.agents.common.nets import deterministic_torch
from testbed.agents.marl.mappo import MAPPO, MAPPOConfig
from testbed.agents.safe.mappo_lagrangian import MAPPOLagrangian
from testbed.joint import members
from testbed.registry import make_agent, make_env
from testbed.train.loop import evaluate, train

NAV = "testbed/safe_navigation_v0"
SMALL = {"rollout_steps": 64, "epochs": 2, "minibatches": 2, "hidden": (32, 32)}


def build(env: Any, cls: type, **params: Any) -> Any:
    config = cls.Config(**{**SMALL, **params})
    return cls(
        {a: env.observation_space(a) for a in env.possible_agents},
        {a: env.action_space(a) for a in env.possible_agents},
        config,
    )


class CostlyBandit2(ParallelEnv):
    """Two agents, one step per episode. Arm 0: reward 0.5, cost 0; arm 1: reward 1, cost 1
    (each agent's own reward and cost). Reward maximisation takes arm 1 (team return 2, team
    cost 2); with a budget below 1 per agent (or 2 per team), the safe arm 0 is the answer."""

    metadata = {"name": "costly_bandit2_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self):
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents: list[str] = []
        self._obs = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self._act = spaces.Discrete(2)

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs

    def action_space(self, agent: str) -> spaces.Space:
        return self._act

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.agents = list(self.possible_agents)
        return {a: np.ones(1, np.float32) for a in self.agents}, {
            a: {"cost": 0.0} for a in self.agents
        }

    def step(self, actions: dict[str, Any]):
        agents, self.agents = self.agents, []
        return (
            {a: np.ones(1, np.float32) for a in agents},
            {a: 1.0 if int(actions[a]) else 0.5 for a in agents},
            {a: True for a in agents},
            {a: False for a in agents},
            {a: {"cost": float(int(actions[a]))} for a in agents},
        )


def weights(group: MAPPOLagrangian) -> list[torch.Tensor]:
    modules = (*group.mappo.actors, *group.mappo.critics, *group.cost_critics)
    return [p.detach().clone() for m in modules for p in m.parameters()]


def test_trains_on_safe_navigation_through_the_harness() -> None:
    deterministic_torch(0)
    env = make_env(NAV)
    group = build(env, MAPPOLagrangian, cost_limit=3.0)
    state = train(env, members(group), 140, seed=1)
    metrics = next(iter(state.metrics.values()))
    assert group.mappo.updates == 2
    assert all(math.isfinite(v) for v in metrics.values())
    assert {"lagrange", "cost_value_loss", "policy_loss", "rollout_cost"} <= set(metrics)
    assert group.config.lagrange_mode == "adam" and len(group.lagranges) == 1


def test_registry_and_agent_constraint_have_one_multiplier_per_agent() -> None:
    env = make_env(NAV)
    group = make_agent(
        "mappo_lagrangian",
        {a: env.observation_space(a) for a in env.possible_agents},
        {a: env.action_space(a) for a in env.possible_agents},
        constraint="agent",
        cost_limit=1.0,
    )
    assert isinstance(group, MAPPOLagrangian) and len(group.lagranges) == 3
    with pytest.raises(ValueError, match="constraint"):
        build(env, MAPPOLagrangian, constraint="everyone")


def test_state_dict_round_trip_gives_identical_actions_and_multipliers() -> None:
    deterministic_torch(0)
    env = make_env(NAV)
    group = build(env, MAPPOLagrangian, constraint="agent", cost_limit=0.5)
    train(env, members(group), 130, seed=0)
    clone = build(env, MAPPOLagrangian, constraint="agent", cost_limit=0.5)
    clone.load_state_dict(group.state_dict())
    assert [lag.value for lag in clone.lagranges] == [lag.value for lag in group.lagranges]
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        masks = {a: None for a in obs}
        assert {a: int(x) for a, x in group.act(obs, masks).items()} == {
            a: int(x) for a, x in clone.act(obs, masks).items()
        }


def test_same_seed_same_weights() -> None:
    env = make_env(NAV)
    runs = []
    for _ in range(2):
        deterministic_torch(3)
        group = build(env, MAPPOLagrangian)
        train(env, members(group), 140, seed=3)
        runs.append(weights(group))
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))


def test_episode_costs_reach_the_multiplier() -> None:
    """Team mode: lambda moves with the team's summed episode cost against the limit."""
    env = CostlyBandit2()
    group = build(env, MAPPOLagrangian, rollout_steps=8, cost_limit=0.5, lagrange_mode="gradient",
                  lagrange_lr=0.1)  # fmt: skip
    obs, _ = env.reset()
    for _ in range(8):
        actions = {a: np.int64(1) for a in obs}
        group.explore(obs, {a: None for a in obs})
        group.observe({
            a: {"obs": obs[a], "action": actions[a], "reward": 1.0, "cost": 1.0,
                "next_obs": obs[a], "terminated": True, "truncated": False,
                "action_mask": None, "next_action_mask": None}
            for a in obs
        })  # fmt: skip
    metrics = group.update()
    assert metrics["episode_cost"] == pytest.approx(2.0)
    assert group.lagrange.value == pytest.approx(0.1 * (2.0 - 0.5))


@pytest.mark.parametrize(
    ("constraint", "cost_advantage"),
    [("team", "standardize"), ("agent", "standardize"), ("team", "center")],
)
def test_lagrangian_takes_the_safe_arms_where_mappo_takes_the_costly_ones(
    constraint: str, cost_advantage: str
) -> None:
    env = CostlyBandit2()
    fast = {"rollout_steps": 32, "epochs": 4, "learning_rate": 3e-3, "hidden": (16,)}
    limit = 0.5 if constraint == "team" else 0.25  # team: 2 agents x 0.25
    deterministic_torch(0)
    plain = MAPPO(
        {a: env.observation_space(a) for a in env.possible_agents},
        {a: env.action_space(a) for a in env.possible_agents},
        MAPPOConfig(**{**SMALL, **fast}),
    )
    train(env, members(plain), 1500, seed=0)
    deterministic_torch(0)
    safe = build(env, MAPPOLagrangian, **fast, constraint=constraint, cost_limit=limit,
                 lagrange_lr=0.2, cost_advantage=cost_advantage)  # fmt: skip
    train(env, members(safe), 1500, seed=0)
    plain_return, plain_cost = evaluate(env, members(plain), seed=1, episodes=5)
    safe_return, safe_cost = evaluate(env, members(safe), seed=1, episodes=5)
    assert plain_cost == 2.0 and plain_return == 2.0  # both agents on the costly arm
    assert safe_cost == 0.0 and safe_return == 1.0, [lag.value for lag in safe.lagranges]
    assert min(lag.value for lag in safe.lagranges) > 0.5


def test_unknown_cost_advantage_is_refused() -> None:
    env = CostlyBandit2()
    with pytest.raises(ValueError, match="cost_advantage must be one of"):
        build(env, MAPPOLagrangian, cost_advantage="scale")
