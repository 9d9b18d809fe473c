"""joint_shield: per-agent shields around a joint learner (MAPPO / MAPPO-Lagrangian) on
safe_navigation: no hazard or speed cost, interventions per agent in the episode records,
training through the harness, checkpoints, and a clear refusal of per-agent policies."""

from __future__ import annotations

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import pytest
import torch

from testbed.agents.common.nets import deterministic_torch
from testbed.errors import BadInput
from testbed.joint import members
from testbed.registry import make_agent, make_env
from testbed.rollout.episode import run_episode
from testbed.rollout.team import PolicyTeam
from testbed.train.loop import train

NAV = "testbed/safe_navigation_v0"
SMALL = {"rollout_steps": 64, "epochs": 1, "minibatches": 1, "hidden": [16]}


def build(env, **params):
    return make_agent(
        "joint_shield",
        {a: env.observation_space(a) for a in env.possible_agents},
        {a: env.action_space(a) for a in env.possible_agents},
        **params,
    )


@pytest.mark.parametrize(
    ("mode", "predicate"),
    [
        ("post_posed", "safe_navigation"),
        # pre-emptive offers every legal action when none is safe, so it needs the predicate
        # that always leaves one (the zero action; the collision heuristic may reject all)
        ("pre_emptive", "safe_navigation_hazards"),
    ],
)
def test_an_untrained_shielded_team_never_enters_a_hazard_or_speeds(
    mode: str, predicate: str
) -> None:
    deterministic_torch(0)
    env = make_env(NAV)
    group = build(env, policy="mappo", policy_params=SMALL, mode=mode,
                  predicate=f"testbed.agents.safe.predicates:{predicate}")  # fmt: skip
    team = PolicyTeam(members(group))
    records = [run_episode(env, team, seed) for seed in range(4)]
    parts = [a.costs for r in records for a in r.agents.values()]
    assert all(p.get("hazard", 0.0) == 0.0 and p.get("speed", 0.0) == 0.0 for p in parts)
    counts = [a.interventions for r in records for a in r.agents.values()]
    assert all(isinstance(c, int) for c in counts) and sum(counts) > 0
    # the same untrained MAPPO unshielded does pay hazard or speed costs
    deterministic_torch(0)
    bare = make_agent(
        "mappo",
        {a: env.observation_space(a) for a in env.possible_agents},
        {a: env.action_space(a) for a in env.possible_agents},
        **SMALL,
    )
    bare_records = [run_episode(env, PolicyTeam(members(bare)), seed) for seed in range(4)]
    bare_parts = [a.costs for r in bare_records for a in r.agents.values()]
    assert sum(p.get("hazard", 0.0) + p.get("speed", 0.0) for p in bare_parts) > 0


def test_mappo_lagrangian_trains_through_the_shield_and_round_trips() -> None:
    deterministic_torch(0)
    env = make_env(NAV)
    params = {**SMALL, "cost_limit": 3.0}
    group = build(env, policy="mappo_lagrangian", policy_params=params)
    costs: list[dict[str, float]] = []
    state = train(env, members(group), 400, seed=0,
                  on_episode=lambda stats, _: costs.append(stats.costs))  # fmt: skip
    assert state.step == 400 and group.policy.mappo.updates >= 5
    assert any("interventions" in m for m in state.metrics.values())
    copy = build(env, policy="mappo_lagrangian", policy_params=params)
    copy.load_state_dict(group.state_dict())
    obs, _ = env.reset(seed=3)
    masks = dict.fromkeys(obs)
    assert copy.act(obs, masks) == group.act(obs, masks)
    for a, b in zip(
        group.policy.mappo.actors[0].parameters(),
        copy.policy.mappo.actors[0].parameters(),
        strict=True,
    ):
        assert torch.equal(a, b)


def test_a_per_agent_policy_is_refused_with_a_pointer_to_shield() -> None:
    env = make_env(NAV)
    with pytest.raises(BadInput, match="wrap a per-agent policy with `shield`"):
        build(env, policy="ppo")
