"""CVaR-PPO: the empirical VaR/CVaR and the per-step tail signals, training through the harness,
checkpoints, determinism, and the decisive check: with a safe arm (cost 0.2 always) and a
better-paying risky arm with the SAME mean cost (2 with probability 0.1), CVaR-PPO takes the
safe arm while PPO-Lagrangian, at the same limit on the mean, takes the risky one.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from testbed.agents.common.nets import deterministic_torch
from testbed.agents.safe.cvar import empirical_cvar, tail_signals
from testbed.errors import BadInput
from testbed.registry import make_agent, make_env
from testbed.registry.checkpoint import load_checkpoint, save_checkpoint
from testbed.train.loop import train

AGENT = "agent_0"
NAV = "testbed/safe_navigation_v0"
SMALL = {"rollout_steps": 64, "minibatch_size": 32, "epochs": 2}


class RiskyBandit(ParallelEnv):
    """One step per episode. Arm 0 (safe): reward 0.5, cost 0.2. Arm 1 (risky): reward 1, cost
    2 with probability 0.1, else 0. Both arms cost 0.2 on average; CVaR_0.9 is 0.2 for the safe
    arm and 2 for the risky one."""

    metadata = {"name": "risky_bandit_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self):
        self.possible_agents = [AGENT]
        self.agents: list[str] = []

    @functools.cache  # noqa: B019
    def observation_space(self, agent: str) -> spaces.Space:
        return spaces.Box(-1.0, 1.0, (1,), np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(2)

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.rng = np.random.default_rng(seed)
        self.agents = [AGENT]
        return {AGENT: np.ones(1, np.float32)}, {AGENT: {"cost": 0.0}}

    def step(self, actions: dict[str, Any]):
        arm = int(actions[AGENT])
        self.agents = []
        cost = (2.0 if self.rng.random() < 0.1 else 0.0) if arm else 0.2
        return (
            {AGENT: np.ones(1, np.float32)},
            {AGENT: 1.0 if arm else 0.5},
            {AGENT: True},
            {AGENT: False},
            {AGENT: {"cost": cost}},
        )


# -- the risk measure -------------------------------------------------------------------------


def test_empirical_cvar_is_the_mean_of_the_worst_tail() -> None:
    costs = np.arange(10.0)  # 0 .. 9
    assert empirical_cvar(costs, 0.8) == pytest.approx((7.0, 8.5))  # mean of 8 and 9
    assert empirical_cvar(costs, 0.0) == pytest.approx((0.0, 4.5))  # alpha 0: the mean
    same_mean = [2.0] + [0.0] * 9
    assert empirical_cvar(same_mean, 0.9)[1] == pytest.approx(2.0)
    assert empirical_cvar([0.2] * 10, 0.9) == pytest.approx((0.2, 0.2))


def test_tail_signals_sum_to_each_episodes_tail_excess() -> None:
    # two episodes in one rollout: costs (1, 0, 3) and (2, 2); nu = 2.5
    costs = torch.tensor([1.0, 0.0, 3.0, 2.0, 2.0])
    before = torch.tensor([0.0, 1.0, 1.0, 0.0, 2.0])
    tail = tail_signals(before, costs, 2.5)
    assert tail.tolist() == pytest.approx([0.0, 0.0, 1.5, 0.0, 1.5])
    assert float(tail[:3].sum()) == pytest.approx(4.0 - 2.5)
    assert float(tail[3:].sum()) == pytest.approx(4.0 - 2.5)
    assert tail_signals(before, costs, 10.0).abs().sum() == 0.0  # no episode reaches nu


# -- the learner ------------------------------------------------------------------------------


def nav_learners(seed: int, **params: Any):
    deterministic_torch(seed)
    env = make_env(NAV, n_agents=2, max_cycles=40, continuous_actions=True)
    params = {**SMALL, "cost_limit": 1.0, "risk_window": 10, **params}
    learners = {
        a: make_agent("cvar_ppo", env.observation_space(a), env.action_space(a), **params)
        for a in env.possible_agents
    }
    return env, learners, params


def test_cvar_ppo_trains_on_safe_navigation() -> None:
    env, learners, _ = nav_learners(0)
    state = train(env, learners, 300, seed=1)
    for agent in env.possible_agents:
        metrics = state.metrics[agent]
        assert {"lagrange", "var", "cvar", "tail_value_loss", "policy_loss"} <= set(metrics)
        assert all(math.isfinite(v) for v in metrics.values())
        assert metrics["cvar"] >= metrics["var"] >= 0.0
        assert learners[agent].ppo.updates == 4


def test_cvar_ppo_checkpoint_round_trip(tmp_path) -> None:
    env, learners, params = nav_learners(0, lagrange_init=0.3)
    train(env, learners, 200, seed=1)
    agent = env.possible_agents[0]
    learner = learners[agent]
    obs_space, act_space = env.observation_space(agent), env.action_space(agent)
    save_checkpoint(tmp_path / "ck", learner, agent_id="cvar_ppo", params=params,
                    observation_space=obs_space, action_space=act_space)  # fmt: skip
    loaded = load_checkpoint(tmp_path / "ck", obs_space, act_space)
    batch = [obs_space.sample() for _ in range(32)]
    assert all(np.array_equal(learner.act(o), loaded.act(o)) for o in batch)
    assert loaded.lagrange.state_dict() == learner.lagrange.state_dict()
    assert (loaded.var, loaded.window) == (learner.var, learner.window) and learner.window
    for key, value in learner.tail_critic.state_dict().items():
        assert torch.equal(value, loaded.tail_critic.state_dict()[key])


def test_cvar_ppo_is_deterministic() -> None:
    weights = []
    for _ in range(2):
        env, learners, _ = nav_learners(3)
        train(env, learners, 200, seed=5)
        weights.append(learners["robot_1"].state_dict())
    a, b = weights
    for net in ("actor", "critic"):
        for key, value in a["ppo"][net].items():
            assert torch.equal(value, b["ppo"][net][key])
    for key, value in a["tail_critic"].items():
        assert torch.equal(value, b["tail_critic"][key])
    assert (a["lagrange"], a["var"], a["window"]) == (b["lagrange"], b["var"], b["window"])


def risky_choice(agent_id: str, **params: Any) -> tuple[float, Any]:
    deterministic_torch(0)
    env = RiskyBandit()
    learner = make_agent(agent_id, env.observation_space(AGENT), env.action_space(AGENT),
                         rollout_steps=64, minibatch_size=32, epochs=4, learning_rate=1e-3,
                         cost_limit=0.3, lagrange_lr=5.0, **params)  # fmt: skip
    train(env, {AGENT: learner}, 1280, seed=0)
    with torch.no_grad():
        p_risky = float(learner.ppo.actor.distribution(torch.ones(1, 1)).probs[0, 1])
    return p_risky, learner


def test_cvar_ppo_avoids_the_heavy_tail_that_the_mean_constraint_accepts() -> None:
    p_cvar, cvar = risky_choice("cvar_ppo", cvar_alpha=0.9, risk_window=64)
    p_lag, lag = risky_choice("ppo_lagrangian")
    obs = np.ones(1, np.float32)
    assert int(lag.act(obs)) == 1 and p_lag > 0.9  # mean 0.2 <= 0.3: the risky arm is "safe"
    assert lag.lagrange.value < 0.5
    assert int(cvar.act(obs)) == 0 and p_cvar < 0.1  # CVaR <= 0.3 allows ~5% risky at most
    assert cvar.var == pytest.approx(0.2)  # the window's VaR_0.9: the safe arm's cost


def test_cvar_ppo_rejects_bad_settings() -> None:
    with pytest.raises(BadInput, match="Discrete or 1-D Box"):
        make_agent("cvar_ppo", spaces.Box(-1, 1, (2,)), spaces.MultiDiscrete([2, 2]))
    with pytest.raises(BadInput, match="cvar_alpha"):
        make_agent("cvar_ppo", spaces.Box(-1, 1, (2,)), spaces.Discrete(2), cvar_alpha=1.0)
