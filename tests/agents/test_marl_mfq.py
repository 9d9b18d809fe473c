"""Mean-Field Q (agents/marl/mean_field_q.py): a shared Q(o, a, mean action of the others),
trained through testbed.train.loop.train with `members(group)`."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from testbed.agents.common.nets import deterministic_torch
from testbed.agents.marl.mean_field_q import MeanFieldQ, MFQConfig
from testbed.joint import is_joint, members
from testbed.registry import make_agent, make_env
from testbed.train.loop import evaluate, train


class FollowTheCrowd(ParallelEnv):
    """N agents, Discrete(3), uninformative observations (agent_0's has 2 dims, the others 3).

    Agent j's reward is the share of the OTHER agents whose previous action equals a_j, i.e.
    ā_j[a_j] with ā_j the others' previous mean action (random "previous" actions at reset).
    Only the mean field tells an agent what to do: uniform random play earns 1/3 per step,
    copying the crowd's previous majority earns ~1 from the second step on.
    """

    metadata = {"name": "follow_the_crowd_v0", "is_parallelizable": True}

    def __init__(self, n: int = 4, length: int = 8):
        self.possible_agents = [f"agent_{i}" for i in range(n)]
        self.length = length
        self.rng = np.random.default_rng(0)

    @functools.cache  # noqa: B019
    def observation_space(self, agent):
        return spaces.Box(0.0, 1.0, (2 if agent == "agent_0" else 3,), np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        return spaces.Discrete(3)

    def _obs(self):
        return {a: np.zeros(self.observation_space(a).shape, np.float32) for a in self.agents}

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.t = 0
        self.agents = list(self.possible_agents)
        self.previous = self.rng.integers(3, size=len(self.agents))
        return self._obs(), {a: {"cost": 0.0} for a in self.agents}

    def step(self, actions):
        acts = np.array([int(actions[a]) for a in self.agents])
        same = (self.previous[None, :] == acts[:, None]).sum(axis=1)
        same -= self.previous == acts  # leave the agent itself out
        rewards = {a: float(s) / (len(acts) - 1) for a, s in zip(self.agents, same, strict=True)}
        self.previous, self.t = acts, self.t + 1
        done = self.t >= self.length
        obs, agents = self._obs(), self.agents
        infos = {a: {"cost": 0.0} for a in agents}
        if done:
            self.agents = []
        return obs, rewards, dict.fromkeys(agents, False), dict.fromkeys(agents, done), infos


FAST = MFQConfig(
    hidden=(32,),
    learning_rate=3e-3,
    gamma=0.5,
    buffer_size=5000,
    batch_size=32,
    learning_starts=50,
    train_freq=1,
    tau=0.05,
    temperature_start=1.0,
    temperature_end=0.05,
    temperature_decay_steps=400,
)


def spaces_of(env):
    return (
        {a: env.observation_space(a) for a in env.possible_agents},
        {a: env.action_space(a) for a in env.possible_agents},
    )


def build(env, seed: int = 0, config: MFQConfig = FAST) -> MeanFieldQ:
    deterministic_torch(seed)
    return MeanFieldQ(*spaces_of(env), config)


def test_trains_on_mpe_through_registry() -> None:
    env = make_env("mpe/simple_spread_v3", N=3, max_cycles=25)
    deterministic_torch(0)
    group = make_agent("mfq", *spaces_of(env), hidden=[32], learning_starts=50)
    assert is_joint(group) and group.agents == env.possible_agents
    state = train(env, members(group), 150, seed=1)
    metrics = state.metrics["agent_0+agent_1+agent_2"]
    assert set(metrics) == {"loss", "q_mean", "temperature"}
    assert all(math.isfinite(v) for v in metrics.values())
    ret, _ = evaluate(env, members(group), seed=0, episodes=2)
    assert math.isfinite(ret)


def test_mean_field_is_the_others_previous_actions() -> None:
    env = FollowTheCrowd()
    group = build(env)
    group.reset(0)
    obs, _ = env.reset(seed=0)
    first = {a: group.act({a: obs[a]}, {a: None})[a] for a in env.agents}  # agent by agent
    assert all(np.array_equal(group._means[a], np.zeros(3)) for a in env.agents)
    group.act({"agent_2": obs["agent_2"]}, {"agent_2": None})  # a new step starts
    others = [int(first[a]) for a in ("agent_0", "agent_1", "agent_3")]
    expected = np.eye(3, dtype=np.float32)[others].mean(axis=0)
    np.testing.assert_allclose(group._means["agent_2"], expected)
    np.testing.assert_allclose(group.mean_action("agent_2", {"agent_2": 0}), np.zeros(3))
    group.reset(0)
    group.act(obs, dict.fromkeys(obs))
    assert all(np.array_equal(group._means[a], np.zeros(3)) for a in env.agents)


def test_decentralized_act_matches_joint_act() -> None:
    env = FollowTheCrowd()
    group = build(env)
    train(env, members(group), 120, seed=0)
    rng = np.random.default_rng(1)
    agents = env.possible_agents
    steps = [
        {a: rng.random(env.observation_space(a).shape, np.float32) for a in agents}
        for _ in range(6)
    ]
    group.reset(3)
    joint = [group.act(obs, dict.fromkeys(obs)) for obs in steps]
    group.reset(3)
    single = [{a: group.act({a: o}, {a: None})[a] for a, o in obs.items()} for obs in steps]
    assert joint == single


def test_state_dict_round_trip_gives_identical_actions() -> None:
    env = FollowTheCrowd()
    group = build(env)
    train(env, members(group), 150, seed=2)
    clone = build(env, seed=9)
    clone.load_state_dict(group.state_dict())
    assert clone.steps == group.steps == 150
    rng = np.random.default_rng(0)
    group.reset(1)
    clone.reset(1)
    for _ in range(10):
        agents = env.possible_agents
        obs = {a: rng.random(env.observation_space(a).shape, np.float32) for a in agents}
        masks = {a: np.array([1, int(rng.integers(2)), 1]) for a in agents}
        picked = group.act(obs, masks)
        assert picked == clone.act(obs, masks)
        assert all(int(picked[a]) != 1 or masks[a][1] for a in picked)


def test_same_seed_same_weights() -> None:
    def weights(seed: int) -> list[torch.Tensor]:
        env = FollowTheCrowd()
        group = build(env, seed=seed)
        train(env, members(group), 150, seed=seed)
        return list(group.q.state_dict().values())

    first, again, other = weights(3), weights(3), weights(4)
    assert all(torch.equal(x, y) for x, y in zip(first, again, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(first, other, strict=True))


def test_learns_to_follow_the_mean_field() -> None:
    env = FollowTheCrowd()
    group = build(env, seed=0)
    train(env, members(group), 600, seed=0)
    # The greedy action for a one-hot mean field is that action: the net reads ā (an untrained
    # net gets all three right for none of seeds 0-4; greedy returns alone would not show
    # learning: shared greedy agents with equal observations coordinate by construction).
    zeros = {a: np.zeros(env.observation_space(a).shape, np.float32) for a in env.possible_agents}
    for k in range(3):
        group.reset(0)
        group._current = dict.fromkeys(env.possible_agents, k)  # everyone just played k
        assert set(group.act(zeros, dict.fromkeys(zeros)).values()) == {k}
    random_team = {
        a: make_agent("random", env.observation_space(a), env.action_space(a))
        for a in env.possible_agents
    }
    learned, _ = evaluate(env, members(group), seed=5, episodes=20)
    chance, _ = evaluate(env, random_team, seed=5, episodes=20)
    # team return = 4 agents x 8 steps x mean reward: random ~ 10.7, perfect after step 1 ~ 29
    assert chance < 14.0
    assert learned > 26.0


def test_rejects_bad_spaces_and_params() -> None:
    obs = {a: spaces.Box(0.0, 1.0, (2,), np.float32) for a in ("x", "y")}
    box = {a: spaces.Box(-1.0, 1.0, (2,), np.float32) for a in ("x", "y")}
    with pytest.raises(ValueError, match="Discrete action spaces"):
        MeanFieldQ(obs, box)
    env = make_env("mpe/simple_spread_v3", N=2, continuous_actions=True)
    with pytest.raises(ValueError, match="Discrete action spaces"):
        MeanFieldQ(*spaces_of(env))
    discrete = {a: spaces.Discrete(3) for a in ("x", "y")}
    with pytest.raises(ValueError, match="loss"):
        MeanFieldQ(obs, discrete, MFQConfig(loss="l1"))
    with pytest.raises(ValueError, match="temperatures"):
        MeanFieldQ(obs, discrete, MFQConfig(temperature_end=0.0))
