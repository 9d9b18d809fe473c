"""CPO: the closed-form dual against brute force, conjugate gradient, training through the
harness (discrete with masks and continuous), checkpoints, determinism, a learning check, and
the decisive one: on a one-step bandit whose better-paying arm costs 1, CPO holds the mean cost
at its budget where plain PPO spends it freely.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pytest
import torch
from constrained_bandits import CostlyBandit
from gymnasium import spaces
from pettingzoo import ParallelEnv

from testbed.agents.common.nets import deterministic_torch
from testbed.agents.safe.cpo import conjugate_gradient, solve_cpo_dual
from testbed.errors import BadInput
from testbed.registry import make_agent, make_env
from testbed.registry.checkpoint import load_checkpoint, save_checkpoint
from testbed.train.loop import TrainState, evaluate, train

AGENT = "agent_0"


class SignWithCost(ParallelEnv):
    """Each step shows a random sign s in {0, 1} as [2s - 1, 1]; 10 steps per episode.
    Discrete(3): action s earns +1, the other -1, action 2 is illegal (masked in the info,
    taking it raises); action 1 costs 1. Box [-1, 1]: reward 1 - |a - (2s - 1)|, cost 1 when
    a > 0.5. Random play scores about 0, perfect play 10."""

    metadata = {"name": "sign_with_cost_v0", "render_modes": [], "is_parallelizable": True}
    MASK = np.array([1, 1, 0], dtype=np.int8)

    def __init__(self, continuous: bool = False):
        self.continuous = continuous
        self.possible_agents = [AGENT]
        self.agents: list[str] = []

    @functools.cache  # noqa: B019
    def observation_space(self, agent: str) -> spaces.Space:
        return spaces.Box(-1.0, 1.0, (2,), np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Space:
        if self.continuous:
            return spaces.Box(-1.0, 1.0, (1,), np.float32)
        return spaces.Discrete(3)

    def _obs(self) -> dict[str, np.ndarray]:
        return {AGENT: np.array([2.0 * self.sign - 1.0, 1.0], np.float32)}

    def _info(self, cost: float = 0.0) -> dict[str, Any]:
        info: dict[str, Any] = {"cost": cost}
        if not self.continuous:
            info["action_mask"] = self.MASK.copy()
        return {AGENT: info}

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.rng = np.random.default_rng(seed)
        self.t, self.sign, self.agents = 0, int(self.rng.integers(2)), [AGENT]
        return self._obs(), self._info()

    def step(self, actions: dict[str, Any]):
        action = actions[AGENT]
        if self.continuous:
            a = float(np.asarray(action).reshape(-1)[0])
            assert -1.0 <= a <= 1.0, "action outside the bounds"
            reward, cost = 1.0 - abs(a - (2.0 * self.sign - 1.0)), float(a > 0.5)
        else:
            assert int(action) != 2, "illegal action taken"
            reward = 1.0 if int(action) == self.sign else -1.0
            cost = float(int(action) == 1)
        self.t += 1
        self.sign = int(self.rng.integers(2))
        truncated = self.t >= 10
        if truncated:
            self.agents = []
        return self._obs(), {AGENT: reward}, {AGENT: False}, {AGENT: truncated}, self._info(cost)


# -- the math ---------------------------------------------------------------------------------


def test_closed_form_dual_solves_the_linearised_problem() -> None:
    """max g.x s.t. c + b.x <= 0, x.H.x / 2 <= delta: the closed form is feasible and at least
    as good as the best of many random points of the trust region, in every case; in case 0
    (nothing feasible) it is the largest cost decrease."""
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        m = rng.normal(size=(3, 3))
        h = m @ m.T + 0.5 * np.eye(3)
        g, b = rng.normal(size=3), rng.normal(size=3)
        delta, c = 0.01, 0.2 * rng.normal()
        h_inv = np.linalg.inv(h)
        q, r, s = g @ h_inv @ g, g @ h_inv @ b, b @ h_inv @ b
        case, lam, nu = solve_cpo_dual(q, r, s, c, delta)
        seen.add(case)
        x = -nu * h_inv @ b if case == 0 else h_inv @ (g - nu * b) / lam
        z = rng.normal(size=(20_000, 3))
        z *= math.sqrt(2 * delta) / np.linalg.norm(z, axis=1, keepdims=True)
        z *= rng.uniform(size=(20_000, 1)) ** (1 / 3)  # uniform in the ball |z|^2 <= 2 delta
        points = z @ np.linalg.cholesky(h_inv).T  # x.H.x = |z|^2
        assert x @ h @ x / 2 <= delta * (1 + 1e-6)
        if case == 0:
            assert c + (points @ b).min() > 0  # really nothing feasible
            assert x @ b <= (points @ b).min() + 1e-9
            continue
        feasible = points[c + points @ b <= 0]
        assert c + x @ b <= 1e-7
        assert x @ g >= (feasible @ g).max() - 1e-7
    assert seen == {0, 1, 2, 3}


def test_inactive_constraint_is_the_trpo_step() -> None:
    case, lam, nu = solve_cpo_dual(q=4.0, r=0.0, s=0.0, c=-1.0, delta=0.02, b_tiny=True)
    assert (case, nu) == (4, 0.0) and lam == pytest.approx(math.sqrt(4.0 / 0.04))


def test_conjugate_gradient_solves_a_positive_definite_system() -> None:
    rng = np.random.default_rng(1)
    m = torch.as_tensor(rng.normal(size=(6, 6)))
    h = m @ m.T + torch.eye(6, dtype=torch.float64)
    b = torch.as_tensor(rng.normal(size=6))
    x = conjugate_gradient(lambda v: h @ v, b, iters=20)
    assert torch.allclose(h @ x, b, atol=1e-8)


# -- the learner ------------------------------------------------------------------------------

SMALL = {"rollout_steps": 64, "critic_minibatch_size": 32, "critic_epochs": 2}


@pytest.mark.parametrize("continuous", [False, True])
def test_cpo_trains_through_the_harness(continuous: bool) -> None:
    deterministic_torch(0)
    env = make_env("testbed/safe_navigation_v0", n_agents=2, max_cycles=40,
                   continuous_actions=continuous)  # fmt: skip
    params = {**SMALL, "cost_limit": 1.0, "fvp_subsample": 2 if continuous else 1}
    learners = {
        a: make_agent("cpo", env.observation_space(a), env.action_space(a), **params)
        for a in env.possible_agents
    }
    state = train(env, learners, 300, seed=1)
    expected = {"optim_case", "kl", "backtracks", "value_loss", "cost_value_loss", "episode_cost"}
    for agent, learner in learners.items():
        metrics = state.metrics[agent]
        assert expected <= set(metrics)
        assert all(math.isfinite(v) for v in metrics.values())
        assert metrics["kl"] <= 0.01  # the line search keeps the trust region
        assert learner.updates == 4  # 300 // 64


def test_cpo_checkpoint_round_trip(tmp_path) -> None:
    deterministic_torch(0)
    env = SignWithCost(continuous=True)
    obs_space, act_space = env.observation_space(AGENT), env.action_space(AGENT)
    params = {**SMALL, "cost_limit": 2.0, "normalize_observations": True}
    learner = make_agent("cpo", obs_space, act_space, **params)
    train(env, {AGENT: learner}, 200, seed=1)
    save_checkpoint(tmp_path / "ck", learner, agent_id="cpo", params=params,
                    observation_space=obs_space, action_space=act_space)  # fmt: skip
    loaded = load_checkpoint(tmp_path / "ck", obs_space, act_space)
    batch = [obs_space.sample() for _ in range(32)]
    assert all(np.array_equal(learner.act(o), loaded.act(o)) for o in batch)
    assert loaded.updates == learner.updates == 3
    assert loaded.measured_cost == learner.measured_cost
    for key, value in learner.cost_critic.state_dict().items():
        assert torch.equal(value, loaded.cost_critic.state_dict()[key])


def test_cpo_is_deterministic() -> None:
    weights = []
    for _ in range(2):
        deterministic_torch(3)
        env = SignWithCost()
        learner = make_agent("cpo", env.observation_space(AGENT), env.action_space(AGENT),
                             cost_limit=2.0, **SMALL)  # fmt: skip
        train(env, {AGENT: learner}, 200, seed=5)
        weights.append(learner.state_dict())
    a, b = weights
    for net in ("actor", "critic"):
        for key, value in a["ppo"][net].items():
            assert torch.equal(value, b["ppo"][net][key])
    for key, value in a["cost_critic"].items():
        assert torch.equal(value, b["cost_critic"][key])


def test_cpo_learns_the_sign_task_and_honours_the_mask() -> None:
    deterministic_torch(0)
    env = SignWithCost()  # taking the masked action raises inside the env
    learner = make_agent("cpo", env.observation_space(AGENT), env.action_space(AGENT),
                         rollout_steps=200, cost_limit=100.0)  # fmt: skip
    train(env, {AGENT: learner}, 1000, seed=0)
    ret, _ = evaluate(env, {AGENT: learner}, seed=7, episodes=5)
    assert ret >= 8.0  # random play: about 0


def test_cpo_keeps_the_budget_where_ppo_does_not() -> None:
    runs = {}
    for agent_id, params in (
        ("cpo", {"cost_limit": 0.1}),
        ("ppo", {"minibatch_size": 32, "epochs": 4, "learning_rate": 3e-3}),
    ):
        deterministic_torch(0)
        env = CostlyBandit()
        learner = make_agent(agent_id, env.observation_space(AGENT), env.action_space(AGENT),
                             rollout_steps=64, **params)  # fmt: skip
        costs: list[float] = []
        cases: set[float] = set()

        def record_case(state: TrainState) -> None:
            cases.add(state.metrics.get(AGENT, {}).get("optim_case", -1.0))  # noqa: B023

        train(env, {AGENT: learner}, 1280, seed=0,
              on_episode=lambda stats, _: costs.append(stats.team_cost),  # noqa: B023
              on_step=record_case)  # fmt: skip
        with torch.no_grad():
            p_costly = float(learner.actor.distribution(torch.ones(1, 1)).probs[0, 1])
        runs[agent_id] = (learner, float(np.mean(costs[-320:])), p_costly, cases)
    obs = np.ones(1, np.float32)
    cpo, cpo_cost, cpo_p, cpo_cases = runs["cpo"]
    ppo, ppo_cost, ppo_p, _ = runs["ppo"]
    assert int(ppo.act(obs)) == 1 and ppo_p > 0.9 and ppo_cost > 0.8
    assert int(cpo.act(obs)) == 0 and cpo_p < 0.2 and cpo_cost < 0.2  # budget 0.1; random 0.5
    assert cpo_cost > 0.03  # it spends the budget (arm 1 pays more), not just avoids arm 1
    assert cpo_cases & {0.0, 1.0} and cpo_cases & {2.0, 3.0}  # recovery, then feasible steps


def test_cpo_rejects_a_wrong_action_space() -> None:
    with pytest.raises(BadInput, match="CPO needs a Discrete or 1-D Box"):
        make_agent("cpo", spaces.Box(-1, 1, (2,)), spaces.MultiDiscrete([2, 2]))
