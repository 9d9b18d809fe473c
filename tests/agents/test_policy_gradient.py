"""Policy-gradient learners: reinforce, a2c, ppo (discrete and continuous) and the shared
rollout pieces (GAE with truncation bootstrap, reward-to-go).

Each learner runs a few hundred steps through the harness's training loop, round-trips a
checkpoint, repeats exactly under the same seed, learns a tiny task clearly better than
chance, honours action masks and rejects spaces it cannot handle. Learning to the published
level is the benchmark's job (benchmarks/learning.py).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from testbed.agents.common.nets import deterministic_torch
from testbed.agents.common.rollout import RolloutBuffer, discounted_returns, gae, standardize
from testbed.errors import BadInput
from testbed.registry import make_agent, make_env
from testbed.registry.checkpoint import load_checkpoint, save_checkpoint
from testbed.train.loop import evaluate, train

AGENT = "agent_0"


class MatchTheSign(ParallelEnv):
    """Each step the agent sees a random sign s in {0, 1} (as [2s - 1, 1]). Discrete: +1 for
    action s, -1 for the other, action 2 is illegal (masked in the info; taking it raises).
    Continuous (Box [-1, 1]): reward 1 - |a - (2s - 1)|. 10 steps per episode (truncation).
    Random play scores 0 (discrete) / 0 (continuous) on average, perfect play 10."""

    metadata = {"name": "match_the_sign_v0", "render_modes": [], "is_parallelizable": True}
    MASK = np.array([1, 1, 0], dtype=np.int8)

    def __init__(self, continuous: bool = False, horizon: int = 10):
        self.continuous = continuous
        self.horizon = horizon
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
        return {AGENT: np.array([2.0 * self.sign - 1.0, 1.0], dtype=np.float32)}

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"cost": 0.0}
        if not self.continuous:
            info["action_mask"] = self.MASK.copy()
        return {AGENT: info}

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.rng = np.random.default_rng(seed)
        self.t = 0
        self.sign = int(self.rng.integers(2))
        self.agents = [AGENT]
        return self._obs(), self._info()

    def step(self, actions: dict[str, Any]):
        action = actions[AGENT]
        if self.continuous:
            a = float(np.asarray(action).reshape(-1)[0])
            assert -1.0 <= a <= 1.0, "action outside the bounds"
            reward = 1.0 - abs(a - (2.0 * self.sign - 1.0))
        else:
            if int(action) == 2:
                raise AssertionError("illegal action taken")
            reward = 1.0 if int(action) == self.sign else -1.0
        self.t += 1
        self.sign = int(self.rng.integers(2))
        truncated = self.t >= self.horizon
        if truncated:
            self.agents = []
        return (
            self._obs(),
            {AGENT: reward},
            {AGENT: False},
            {AGENT: truncated},
            self._info(),
        )


# (registry id, small params for unit tests, continuous?)
CASES = {
    "reinforce": ("reinforce", {"learning_rate": 1e-2}, False),
    "a2c": ("a2c", {"rollout_steps": 5}, False),
    "ppo": ("ppo", {"rollout_steps": 64, "minibatch_size": 16, "epochs": 4}, False),
    "ppo_continuous": (
        "ppo",
        {
            "rollout_steps": 64,
            "minibatch_size": 16,
            "epochs": 4,
            "normalize_observations": True,
            "scale_rewards": True,
            "clip_value_loss": True,
            "anneal_steps": 1000,
            "target_kl": 0.05,
        },
        True,
    ),
    "reinforce_continuous": ("reinforce", {"episodes_per_update": 2}, True),
    "a2c_continuous": ("a2c", {"optimizer": "adam", "gae_lambda": 0.95}, True),
}


def build(case: str, seed: int = 0, **overrides: Any) -> tuple[MatchTheSign, Any, dict]:
    agent_id, params, continuous = CASES[case]
    params = {**params, **overrides}
    deterministic_torch(seed)
    env = MatchTheSign(continuous=continuous)
    learner = make_agent(agent_id, env.observation_space(AGENT), env.action_space(AGENT), **params)
    return env, learner, params


@pytest.mark.parametrize("case", list(CASES))
def test_trains_through_the_harness_with_finite_metrics(case: str) -> None:
    env, learner, _ = build(case)
    state = train(env, {AGENT: learner}, 300, seed=1)
    metrics = state.metrics[AGENT]
    assert metrics and all(np.isfinite(v) for v in metrics.values())
    assert learner.steps == 300


@pytest.mark.parametrize("case", ["reinforce", "a2c", "ppo", "ppo_continuous"])
def test_checkpoint_round_trip_gives_identical_actions(case: str, tmp_path) -> None:
    env, learner, params = build(case)
    train(env, {AGENT: learner}, 200, seed=2)
    obs_space, act_space = env.observation_space(AGENT), env.action_space(AGENT)
    save_checkpoint(
        tmp_path / "ckpt", learner, agent_id=CASES[case][0], params=params,
        observation_space=obs_space, action_space=act_space,
    )  # fmt: skip
    loaded = load_checkpoint(tmp_path / "ckpt", obs_space, act_space)
    observations = np.random.default_rng(0).uniform(-1, 1, (20, 2)).astype(np.float32)
    for obs in observations:
        np.testing.assert_array_equal(learner.act(obs), loaded.act(obs))
    assert loaded.steps == learner.steps
    if case == "ppo_continuous":  # normaliser statistics travel with the weights
        np.testing.assert_array_equal(loaded.obs_norm.mean, learner.obs_norm.mean)
        assert loaded.return_norm.count == learner.return_norm.count


def weights(learner: Any) -> list[torch.Tensor]:
    nets = [learner.actor] + ([learner.critic] if learner.critic is not None else [])
    return [p.detach().clone() for net in nets for p in net.parameters()]


@pytest.mark.parametrize("case", ["reinforce", "a2c", "ppo", "ppo_continuous"])
def test_same_seed_gives_identical_weights(case: str) -> None:
    runs = []
    for _ in range(2):
        env, learner, _ = build(case, seed=5)
        train(env, {AGENT: learner}, 250, seed=5)
        runs.append(weights(learner))
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))
    env, other, _ = build(case, seed=6)
    train(env, {AGENT: other}, 250, seed=6)
    assert not all(torch.equal(a, b) for a, b in zip(runs[0], weights(other), strict=True))


LEARNING = {  # case -> (env steps, evaluation mean it must reach; random play scores ~0)
    "reinforce": (1000, 8.0),
    "a2c": (1000, 8.0),
    "ppo": (1500, 8.0),
    "ppo_continuous": (2000, 7.0),
}


@pytest.mark.parametrize("case", list(LEARNING))
def test_learns_the_sign_far_better_than_chance(case: str) -> None:
    steps, needed = LEARNING[case]
    env, learner, _ = build(case, seed=3)
    train(env, {AGENT: learner}, steps, seed=3)  # env raises on an illegal (masked) action
    score, _ = evaluate(env, {AGENT: learner}, seed=99, episodes=10)
    assert score >= needed, f"{case} scored {score:.2f} after {steps} steps"


@pytest.mark.parametrize("agent_id", ["reinforce", "a2c", "ppo"])
def test_masked_actions_are_never_chosen(agent_id: str) -> None:
    deterministic_torch(0)
    space = spaces.Discrete(4)
    learner = make_agent(agent_id, spaces.Box(-1, 1, (2,), np.float32), space)
    obs = np.zeros(2, np.float32)
    mask = np.array([0, 0, 1, 0], np.int8)
    assert {int(learner.explore(obs, mask)) for _ in range(50)} == {2}
    assert int(learner.act(obs, mask)) == 2


@pytest.mark.parametrize("agent_id", ["reinforce", "a2c", "ppo"])
def test_wrong_action_space_is_a_clear_error(agent_id: str) -> None:
    env = make_env("gym/CartPole-v1")
    obs_space = env.observation_space(AGENT)
    from testbed.registry import agent_class

    cls = agent_class(agent_id)
    with pytest.raises(ValueError, match="Discrete or 1-D Box"):
        cls(obs_space, spaces.MultiDiscrete([2, 3]), None)
    with pytest.raises(ValueError, match="finite action bounds"):
        cls(obs_space, spaces.Box(-np.inf, np.inf, (2,)), None)
    with pytest.raises(BadInput, match="cannot act"):
        make_agent(agent_id, obs_space, spaces.MultiBinary(3))


def test_standardize_scales_to_unit_variance_but_zeroes_rounding_noise() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 6.0])
    z = standardize(x)
    assert abs(float(z.mean())) < 1e-6 and abs(float(z.std()) - 1.0) < 1e-5
    # equal advantages that picked up float rounding: plain (x - mean) / std would give +-1
    base = torch.full((64,), 0.3)
    noisy = torch.where(torch.arange(64) % 2 == 0, base, torch.nextafter(base, torch.ones(64)))
    assert float((noisy - noisy.mean()).std()) > 0
    assert float(((noisy - noisy.mean()) / (noisy.std() + 1e-8)).abs().max()) > 0.5
    assert torch.equal(standardize(noisy), torch.zeros(64))
    single = torch.tensor([2.5])
    assert torch.equal(standardize(single), single)


def test_gae_bootstraps_on_truncation_but_not_on_termination() -> None:
    rewards = torch.tensor([1.0, 1.0, 1.0, 1.0])
    values = torch.tensor([0.5, 0.5, 0.5, 0.5])
    next_values = torch.tensor([0.5, 2.0, 0.5, 3.0])
    terminated = torch.tensor([0.0, 0.0, 1.0, 0.0])  # step 1 truncated, step 2 terminal
    ends = torch.tensor([0.0, 1.0, 1.0, 1.0])  # step 3 ends the rollout
    gamma, lam = 0.9, 0.8
    adv, returns = gae(rewards, values, next_values, terminated, ends, gamma, lam)
    d1 = 1.0 + gamma * 2.0 - 0.5  # truncation: bootstrap with V(next_obs)
    d0 = 1.0 + gamma * 0.5 - 0.5
    expected = [d0 + gamma * lam * d1, d1, 1.0 - 0.5, 1.0 + gamma * 3.0 - 0.5]
    torch.testing.assert_close(adv, torch.tensor(expected))
    torch.testing.assert_close(returns, adv + values)
    # lambda = 1 without ends: Monte-Carlo returns bootstrapped at the rollout's end
    consistent = torch.tensor([0.5, 0.5, 0.5, 3.0])  # V(s_{t+1}) inside the episode
    _, mc = gae(rewards, values, consistent, torch.zeros(4), torch.tensor([0, 0, 0, 1.0]), 0.5, 1)
    torch.testing.assert_close(mc, torch.tensor([2.0625, 2.125, 2.25, 2.5]))


def test_reward_to_go_and_rollout_buffer() -> None:
    np.testing.assert_allclose(discounted_returns([1.0, 2.0, 3.0], 0.5, 4.0), [3.25, 4.5, 5.0])
    buffer = RolloutBuffer(3)
    for t in range(3):
        buffer.add(obs=np.zeros(2), reward=float(t), cost=0.5 * t, terminated=t == 0,
                   truncated=False, action_mask=None)  # fmt: skip
    assert buffer.full
    batch = buffer.batch()
    assert batch["cost"].tolist() == [0.0, 0.5, 1.0]
    assert batch["end"].tolist() == [1.0, 0.0, 1.0]  # terminal, running, rollout end
    assert "action_mask" not in batch


@pytest.mark.parametrize("agent_id", ["reinforce", "a2c", "ppo"])
def test_an_abandoned_episode_does_not_run_into_the_next(agent_id: str) -> None:
    """A budget that ends mid-episode, then more training: the half episode is cut off."""
    deterministic_torch(0)
    env = MatchTheSign()
    params = {"rollout_steps": 100} if agent_id != "reinforce" else {"episodes_per_update": 9}
    learner = make_agent(agent_id, env.observation_space(AGENT), env.action_space(AGENT), **params)
    state = train(env, {AGENT: learner}, 15, seed=0)  # episode 2 abandoned after 5 steps
    train(env, {AGENT: learner}, 35, seed=0, state=state)  # two fresh episodes
    if agent_id == "reinforce":
        assert [len(steps) for steps, _ in learner.finished] == [10, 10, 10]
        assert learner.episode == []
    else:
        ends = [i for i, step in enumerate(learner.buffer.steps) if step["end"]]
        assert ends == [9, 14, 24, 34]
