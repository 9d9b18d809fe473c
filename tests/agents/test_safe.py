"""Safe RL: the Lagrange multiplier, PPO-Lagrangian and the Shield.

PPO-Lagrangian trains through the harness on safe_navigation, round-trips a checkpoint,
repeats under the same seed and, on a one-step constrained bandit, takes the safe arm where
plain PPO takes the costly one. The Shield keeps every executed action inside its predicate
(zero hazard and speed cost for a random robot), its interventions reach an audit, it
forwards learning to a wrapped learner, and its learned cost model blocks a costly arm.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from constrained_bandits import CostlyBandit
from gymnasium import spaces

from testbed import load_scenario, run
from testbed.agents.common.nets import deterministic_torch
from testbed.agents.safe.lagrange import Lagrange
from testbed.agents.safe.predicates import safe_navigation, safe_navigation_hazards
from testbed.errors import BadInput
from testbed.registry import make_agent, make_env
from testbed.registry.checkpoint import load_checkpoint, save_checkpoint
from testbed.train.loop import train

AGENT = "agent_0"
NAV = "testbed/safe_navigation_v0"
SMALL_PPO = {"rollout_steps": 64, "minibatch_size": 32, "epochs": 2}


# -- Lagrange ---------------------------------------------------------------------------------


def test_lagrange_ascends_on_violation_and_projects_at_zero() -> None:
    lag = Lagrange(cost_limit=1.0, lr=0.5)
    assert lag.update(3.0) == pytest.approx(1.0)  # 0 + 0.5 * (3 - 1)
    assert lag.update(2.0) == pytest.approx(1.5)
    assert lag.update(0.0) == pytest.approx(1.0)  # below the limit: lambda falls
    assert lag.update(0.0) == pytest.approx(0.5)
    assert lag.update(-10.0) == 0.0  # projected onto lambda >= 0
    assert Lagrange(0.0, lr=1.0, max_value=2.0).update(5.0) == 2.0


def test_pid_lagrange_terms() -> None:
    p_only = Lagrange(1.0, mode="pid", kp=2.0)
    assert p_only.update(2.0) == pytest.approx(2.0)  # responds at once ...
    assert p_only.update(1.0) == 0.0  # ... and lets go at once (no memory)
    integral = Lagrange(1.0, mode="pid", ki=0.5)
    assert [integral.update(c) for c in (3.0, 3.0, 0.0)] == pytest.approx([1.0, 2.0, 1.5])
    assert integral.update(-100.0) == 0.0 and integral.integral == 0.0  # integral clamped
    derivative = Lagrange(10.0, mode="pid", kd=1.0)
    derivative.update(2.0)
    assert derivative.update(5.0) == pytest.approx(3.0)  # cost rising below the limit
    assert derivative.update(4.0) == 0.0  # falling: no derivative push


def test_lagrange_state_round_trip_and_bad_mode() -> None:
    lag = Lagrange(1.0, mode="pid", kp=0.1, ki=0.2, kd=0.3)
    for cost in (2.0, 4.0, 1.5):
        lag.update(cost)
    twin = Lagrange(1.0, mode="pid", kp=0.1, ki=0.2, kd=0.3)
    twin.load_state_dict(lag.state_dict())
    assert twin.update(3.0) == lag.update(3.0)
    fresh = Lagrange(1.0)
    fresh.load_state_dict(Lagrange(1.0).state_dict())
    assert fresh.previous_cost is None
    with pytest.raises(ValueError, match="mode"):
        Lagrange(1.0, mode="sgd")


def test_adam_lagrange_steps_about_lr_whatever_the_cost_scale() -> None:
    small, large = Lagrange(25.0, lr=0.035, mode="adam"), Lagrange(25.0, lr=0.035, mode="adam")
    small.update(26.0)
    large.update(900.0)
    assert small.value == pytest.approx(0.035) and large.value == pytest.approx(0.035)
    climb = [large.update(900.0) for _ in range(10)]
    assert climb[-1] == pytest.approx(11 * 0.035)  # about lr per update
    after = [large.update(0.0) for _ in range(300)]  # under the limit: falls, after momentum
    assert after[-1] < max(after) and min(after) >= 0.0
    twin = Lagrange(25.0, lr=0.035, mode="adam")
    twin.load_state_dict(small.state_dict())
    assert twin.update(30.0) == small.update(30.0)


# -- PPO-Lagrangian ---------------------------------------------------------------------------


def nav_learners(seed: int, agent_id: str = "ppo_lagrangian", **params: Any):
    deterministic_torch(seed)
    env = make_env(NAV, n_agents=2, max_cycles=40)
    params = {**SMALL_PPO, "cost_limit": 1.0, **params}
    learners = {
        a: make_agent(agent_id, env.observation_space(a), env.action_space(a), **params)
        for a in env.possible_agents
    }
    return env, learners, params


def test_ppo_lagrangian_trains_on_safe_navigation() -> None:
    env, learners, _ = nav_learners(0)
    state = train(env, learners, 300, seed=1)
    for agent in env.possible_agents:
        metrics = state.metrics[agent]
        assert {"lagrange", "cost_value_loss", "policy_loss", "episode_cost"} <= set(metrics)
        assert all(math.isfinite(v) for v in metrics.values())
        assert metrics["lagrange"] >= 0.0
        assert learners[agent].ppo.updates == 4  # 300 // 64 rollouts


def test_ppo_lagrangian_checkpoint_round_trip(tmp_path) -> None:
    env, learners, params = nav_learners(0, lagrange_init=0.3)
    train(env, learners, 200, seed=1)
    agent = env.possible_agents[0]
    learner = learners[agent]
    obs_space, act_space = env.observation_space(agent), env.action_space(agent)
    save_checkpoint(tmp_path / "ck", learner, agent_id="ppo_lagrangian", params=params,
                    observation_space=obs_space, action_space=act_space)  # fmt: skip
    loaded = load_checkpoint(tmp_path / "ck", obs_space, act_space)
    batch = [obs_space.sample() for _ in range(32)]
    assert [int(learner.act(o)) for o in batch] == [int(loaded.act(o)) for o in batch]
    assert loaded.lagrange.state_dict() == learner.lagrange.state_dict()
    for key, value in learner.cost_critic.state_dict().items():
        assert torch.equal(value, loaded.cost_critic.state_dict()[key])


def test_ppo_lagrangian_is_deterministic() -> None:
    weights = []
    for _ in range(2):
        env, learners, _ = nav_learners(3)
        train(env, learners, 200, seed=5)
        weights.append(learners["robot_1"].state_dict())
    a, b = weights
    for net in ("actor", "critic"):
        for key, value in a["ppo"][net].items():
            assert torch.equal(value, b["ppo"][net][key])
    for key, value in a["cost_critic"].items():
        assert torch.equal(value, b["cost_critic"][key])
    assert a["lagrange"] == b["lagrange"]


def bandit_choice(agent_id: str, seed: int = 0, **params: Any) -> tuple[float, Any]:
    deterministic_torch(seed)
    env = CostlyBandit()
    learner = make_agent(agent_id, env.observation_space(AGENT), env.action_space(AGENT),
                         rollout_steps=64, minibatch_size=32, epochs=4, learning_rate=3e-3,
                         **params)  # fmt: skip
    train(env, {AGENT: learner}, 1280, seed=seed)
    x = torch.ones(1, 1)
    with torch.no_grad():
        p_costly = float(learner_actor(learner).distribution(x).probs[0, 1])
    return p_costly, learner


def learner_actor(learner: Any) -> Any:
    return getattr(learner, "ppo", learner).actor


def test_ppo_lagrangian_takes_the_safe_arm_where_ppo_takes_the_costly_one() -> None:
    p_ppo, ppo = bandit_choice("ppo")
    p_lag, lag = bandit_choice("ppo_lagrangian", cost_limit=0.1, lagrange_lr=1.0)
    obs = np.ones(1, np.float32)
    assert int(ppo.act(obs)) == 1 and p_ppo > 0.9
    assert int(lag.act(obs)) == 0 and p_lag < 0.3
    assert lag.lagrange.value > 0.5  # the budget bit: lambda passed the 0.5 reward gap


def test_ppo_lagrangian_rejects_a_wrong_action_space() -> None:
    with pytest.raises(BadInput, match="Discrete or 1-D Box"):
        make_agent("ppo_lagrangian", spaces.Box(-1, 1, (2,)), spaces.MultiDiscrete([2, 2]))


# -- Shield -----------------------------------------------------------------------------------

HAZARDS = "testbed.agents.safe.predicates:safe_navigation_hazards"


@pytest.mark.parametrize(
    ("continuous", "mode"), [(False, "post_posed"), (True, "post_posed"), (False, "pre_emptive")]
)
def test_shielded_random_never_breaks_the_predicate(continuous: bool, mode: str) -> None:
    env = make_env(NAV, continuous_actions=continuous, max_cycles=100)
    shields = {
        a: make_agent(
            "shield",
            env.observation_space(a),
            env.action_space(a),
            predicate=HAZARDS,
            candidates=16,
            mode=mode,
        )  # fmt: skip
        for a in env.possible_agents
    }
    costs = {"hazard": 0.0, "speed": 0.0}
    interventions = 0
    episodes = 3 if continuous else 6
    for k in range(episodes):
        obs, _ = env.reset(seed=k)
        for index, shield in enumerate(shields.values()):
            shield.reset(100 * k + index)
        while env.agents:
            actions = {a: shields[a].act(obs[a]) for a in env.agents}
            for a, action in actions.items():
                assert safe_navigation_hazards(obs[a], action, env.action_space(a))
            obs, _, _, _, infos = env.step(actions)
            for info in infos.values():
                costs["hazard"] += info["costs"]["hazard"]
                costs["speed"] += info["costs"]["speed"]
        interventions += sum(s.interventions for s in shields.values())
    assert costs == {"hazard": 0.0, "speed": 0.0}  # random alone: ~56 per episode (docstring)
    assert interventions > 10 * episodes


AUDIT = """
name: shielded
seed: 3
kind: audit
env: {id: testbed/safe_navigation_v0, params: {max_cycles: 60}}
agents:
  "*": {id: shield, params: {policy: random}}
episodes: 12
constraints:
  - name: hazards
    cost: hazard
    agent: each
    never_above: 0.5
  - name: shield-use
    limit: 0
    max_intervention_rate: 0.5
"""


def test_shield_interventions_reach_the_audit(write_yaml, tmp_path) -> None:
    result = run(load_scenario(write_yaml(AUDIT)), tmp_path / "run", show=False)
    rows = {r["label"]: r for r in result.stages[0]["constraints"]}
    assert all(rows[f"hazards[robot_{i}] never"]["verdict"] != "FAIL" for i in range(3))
    shield_rows = [r for label, r in rows.items() if label.startswith("shield-use")]
    assert shield_rows and shield_rows[0]["verdict"] == "FAIL"  # random needs it every episode
    assert shield_rows[0]["lower"] > 0.5


def test_shield_forwards_learning_and_checkpoints(tmp_path) -> None:
    deterministic_torch(0)
    env = make_env(NAV, n_agents=1, max_cycles=50)
    agent = env.possible_agents[0]
    params = {"policy": "ppo_lagrangian", "policy_params": SMALL_PPO}
    shield = make_agent("shield", env.observation_space(agent), env.action_space(agent), **params)
    state = train(env, {agent: shield}, 200, seed=2)
    assert shield.policy.ppo.updates == 3 and "lagrange" in state.metrics[agent]
    save_checkpoint(tmp_path / "ck", shield, agent_id="shield", params=params,
                    observation_space=env.observation_space(agent),
                    action_space=env.action_space(agent))  # fmt: skip
    loaded = load_checkpoint(tmp_path / "ck", env.observation_space(agent), env.action_space(agent))
    batch = [env.observation_space(agent).sample() * 0.3 for _ in range(16)]
    assert [int(shield.act(o)) for o in batch] == [int(loaded.act(o)) for o in batch]


def test_learned_shield_blocks_the_costly_arm() -> None:
    deterministic_torch(0)
    env = CostlyBandit()
    shield = make_agent("shield", env.observation_space(AGENT), env.action_space(AGENT),
                        policy="random", predicate="", learned=True, model_warmup=100,
                        model_every=1, model_batch=64, model_lr=1e-2)  # fmt: skip
    train(env, {AGENT: shield}, 400, seed=0)
    obs = np.ones(1, np.float32)
    arms = []
    for k in range(40):
        shield.reset(k)
        arms.append(int(shield.act(obs)))
    assert arms == [0] * 40
    shield.reset(999)
    assert shield.interventions == 0  # counted per episode
    for _ in range(40):
        shield.act(obs)
    assert 5 < shield.interventions < 35  # random picks the costly arm about half the time


def test_shield_needs_a_safety_test() -> None:
    with pytest.raises(BadInput, match="predicate"):
        make_agent("shield", spaces.Box(-1, 1, (2,)), spaces.Discrete(2), predicate="")
    with pytest.raises(BadInput, match="pre-emptive shield needs a Discrete"):
        make_agent("shield", spaces.Box(-1, 1, (2,)), spaces.Box(-1, 1, (2,)), mode="pre_emptive")
    with pytest.raises(BadInput, match="mode"):
        make_agent("shield", spaces.Box(-1, 1, (2,)), spaces.Discrete(2), mode="sideways")


def test_robots_in_contact_must_move_apart_not_wait() -> None:
    env = make_env("testbed/safe_navigation_v0", n_hazards=1)
    env.reset(seed=0)
    # robot_0 and robot_1 at rest, touching (closer than 2 radii); robot_2 and the hazard far
    env.place([[0.0, 0.0], [0.08, 0.0], [-0.8, -0.8]], goals=[[0.8, 0.0], [-0.8, 0.0], [0.8, 0.8]],
              hazards=[[0.0, 0.8]])  # fmt: skip
    obs = env.observe()["robot_0"]
    space = env.action_space("robot_0")
    assert not safe_navigation(obs, 0, space)  # waiting keeps the contact
    assert not safe_navigation(obs, 1, space)  # east: into robot_1
    assert safe_navigation(obs, 5, space)  # west: apart
    assert safe_navigation_hazards(obs, 0, space)  # the hazard part alone still allows waiting
    # far from every robot, waiting is fine
    env.place([[0.0, 0.0], [0.5, 0.0], [-0.8, -0.8]])
    assert safe_navigation(env.observe()["robot_0"], 0, space)
