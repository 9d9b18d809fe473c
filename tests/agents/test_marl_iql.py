"""IQL (agents/marl/iql.py): independent / parameter-shared single-agent learners as one
joint group, trained through testbed.train.loop.train with `members(group)`."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from testbed.agents.common.joint_spaces import PaddedSpaces
from testbed.agents.common.nets import deterministic_torch
from testbed.agents.marl.iql import IQL, IQLConfig
from testbed.errors import BadInput
from testbed.joint import is_joint, members
from testbed.registry import make_agent, make_env
from testbed.train.loop import evaluate, train


class CueMatch(ParallelEnv):
    """Two agents with different spaces read a cue (0..2) and are rewarded for naming it.

    `a`: obs one-hot cue (3,), Discrete(3). `b`: obs one-hot cue + 2 constant dims (5,),
    Discrete(4, start=1) whose last action is always masked out (info["action_mask"]).
    Reward (shared) = mean over agents of [own answer == cue]; 4 steps per episode, a new cue
    every step. Random play: 1/3 per step; perfect play: 1.
    """

    metadata = {"name": "cue_match_v0", "is_parallelizable": True}

    def __init__(self):
        self.possible_agents = ["a", "b"]
        self.rng = np.random.default_rng(0)

    @functools.cache  # noqa: B019
    def observation_space(self, agent):
        return spaces.Box(0.0, 1.0, (3 if agent == "a" else 5,), np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        return spaces.Discrete(3) if agent == "a" else spaces.Discrete(4, start=1)

    def _obs(self):
        cue = np.eye(3, dtype=np.float32)[self.cue]
        return {"a": cue, "b": np.concatenate([cue, [0.5, 1.0]]).astype(np.float32)}

    def _infos(self):
        return {"a": {"cost": 0.0}, "b": {"cost": 0.0, "action_mask": np.array([1, 1, 1, 0])}}

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.t, self.cue = 0, int(self.rng.integers(3))
        self.agents = list(self.possible_agents)
        return self._obs(), self._infos()

    def step(self, actions):
        assert actions["b"] in (1, 2, 3), actions  # padding / masked actions never reach us
        hits = (int(actions["a"]) == self.cue) + (int(actions["b"]) - 1 == self.cue)
        reward = hits / 2
        self.t += 1
        self.cue = int(self.rng.integers(3))
        done = self.t >= 4
        agents, self.agents = self.agents, [] if done else self.agents
        return (
            self._obs(),
            dict.fromkeys(agents, reward),
            dict.fromkeys(agents, False),
            dict.fromkeys(agents, done),
            self._infos(),
        )


def spaces_of(env):
    return (
        {a: env.observation_space(a) for a in env.possible_agents},
        {a: env.action_space(a) for a in env.possible_agents},
    )


FAST_DQN = {
    "hidden": (32,),
    "learning_rate": 1e-3,
    "buffer_size": 5000,
    "batch_size": 32,
    "learning_starts": 100,
    "train_freq": 2,
    "target_update_interval": 100,
    "epsilon_decay_steps": 1000,
    "gamma": 0.5,
}


def build(env, share: bool, learner: str = "dqn", params=None, seed: int = 0) -> IQL:
    deterministic_torch(seed)
    cfg = IQLConfig(learner, dict(FAST_DQN if params is None else params), share)
    return IQL(*spaces_of(env), cfg)


@pytest.mark.parametrize("share", [False, True])
def test_trains_on_mpe_with_different_obs_dims(share: bool) -> None:
    env = make_env("mpe/simple_adversary_v3", max_cycles=25)
    obs_spaces, _ = spaces_of(env)
    assert obs_spaces["adversary_0"].shape != obs_spaces["agent_0"].shape  # 8 vs 10
    group = build(env, share)
    assert is_joint(group) and group.agents == env.possible_agents
    state = train(env, members(group), 200, seed=1)
    metrics = state.metrics["adversary_0+agent_0+agent_1"]
    assert metrics and all(math.isfinite(v) for v in metrics.values())
    assert ("adversary_0/loss" in metrics) != share
    assert len(group.learners) == (1 if share else 3)
    ret, _ = evaluate(env, members(group), seed=0, episodes=2)
    assert math.isfinite(ret)


def test_shared_continuous_learner_acts_within_each_agents_bounds() -> None:
    env = make_env("mpe/simple_adversary_v3", max_cycles=25, continuous_actions=True)
    params = {"hidden": (32,), "learning_starts": 50, "batch_size": 32, "buffer_size": 2000}
    group = build(env, share=True, learner="ddpg", params=params)
    state = train(env, members(group), 60, seed=0)
    metrics = state.metrics["adversary_0+agent_0+agent_1"]
    assert metrics and all(math.isfinite(v) for v in metrics.values())
    obs, _ = env.reset(seed=0)
    for choose in (group.act, group.explore):
        for agent, action in choose(obs, dict.fromkeys(obs)).items():
            assert env.action_space(agent).contains(action), (agent, action)


def test_built_through_registry_with_learner_params() -> None:
    env = CueMatch()
    group = make_agent(
        "iql",
        *spaces_of(env),
        learner="dqn",
        learner_params={"hidden": [16]},
        share_parameters=True,
    )
    assert isinstance(group, IQL) and group.learners["shared"].config.hidden == (16,)
    with pytest.raises(BadInput, match="no parameter 'hiden'"):
        make_agent("iql", *spaces_of(env), learner_params={"hiden": [16]})
    with pytest.raises(BadInput, match="unknown agent id"):
        make_agent("iql", *spaces_of(env), learner="dqnn")


def test_padded_spaces_mask_padding_and_restore_offsets() -> None:
    env = CueMatch()
    view = PaddedSpaces(*spaces_of(env), agent_indicator=True, algorithm="test")
    assert view.obs_dim == 5 + 2 and view.action_space == spaces.Discrete(4)
    padded_a = view.observation("a", np.array([0, 1, 0], np.float32))
    assert padded_a.tolist() == [0, 1, 0, 0, 0, 1, 0]
    assert view.observation("b", np.ones(5, np.float32))[-2:].tolist() == [0, 1]
    assert view.action_mask("a", None).tolist() == [True, True, True, False]
    assert view.action_mask("b", np.array([0, 1, 1, 0])).tolist() == [False, True, True, False]
    assert view.to_env_action("b", 0) == 1 and view.from_env_action("b", 3) == 2
    with pytest.raises(ValueError, match="padding"):
        view.to_env_action("a", 3)
    boxes = {
        "x": spaces.Box(-2.0, 2.0, (2,), np.float32),
        "y": spaces.Box(0.0, 1.0, (3,), np.float32),
    }
    box_view = PaddedSpaces(spaces_of(env)[0], {"a": boxes["x"], "b": boxes["y"]}, False, "t")
    assert box_view.action_space.shape == (3,) and box_view.action_mask("a", None) is None
    for agent, action in (("a", [-1.5, 0.5]), ("b", [0.2, 0.9, 0.0])):
        action = np.array(action, np.float32)
        shared = box_view.from_env_action(agent, action)
        assert shared.shape == (3,) and np.all(np.abs(shared) <= 1.0)
        np.testing.assert_allclose(box_view.to_env_action(agent, shared), action, atol=1e-6)


def test_shared_explore_honours_padding_and_env_masks() -> None:
    env = CueMatch()
    group = build(env, share=True)
    group.reset(0)
    obs, infos = env.reset(seed=0)
    masks = {"a": None, "b": infos["b"]["action_mask"]}
    picks = [group.explore(obs, masks) for _ in range(200)]  # epsilon = 1: uniform legal
    assert {int(p["a"]) for p in picks} == {0, 1, 2}
    assert {int(p["b"]) for p in picks} == {1, 2, 3}


@pytest.mark.parametrize("share", [False, True])
def test_state_dict_round_trip_gives_identical_actions(share: bool) -> None:
    env = CueMatch()
    group = build(env, share)
    train(env, members(group), 250, seed=2)
    clone = build(env, share, seed=9)
    clone.load_state_dict(group.state_dict())
    rng = np.random.default_rng(0)
    for _ in range(20):
        obs = {"a": rng.random(3).astype(np.float32), "b": rng.random(5).astype(np.float32)}
        masks = {"a": None, "b": np.array([1, 1, 1, 0])}
        assert group.act(obs, masks) == clone.act(obs, masks)
    other = build(env, not share)
    with pytest.raises(ValueError, match="checkpoint"):
        other.load_state_dict(group.state_dict())


def test_same_seed_same_weights() -> None:
    def weights(seed: int) -> list[torch.Tensor]:
        env = CueMatch()
        group = build(env, share=True, seed=seed)
        train(env, members(group), 200, seed=seed)
        return list(group.learners["shared"].q.state_dict().values())

    first, again, other = weights(3), weights(3), weights(4)
    assert all(torch.equal(x, y) for x, y in zip(first, again, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(first, other, strict=True))


def test_shared_dqn_learns_to_beat_random() -> None:
    env = CueMatch()
    group = build(env, share=True, seed=0)
    random_group = {
        a: make_agent("random", env.observation_space(a), env.action_space(a))
        for a in env.possible_agents
    }
    train(env, members(group), 600, seed=0)
    learned, _ = evaluate(env, members(group), seed=5, episodes=30)
    chance, _ = evaluate(env, random_group, seed=5, episodes=30)
    # team return = 2 agents x 4 steps x mean hit rate: random ~ 2.7, perfect 8
    assert chance < 4.0
    assert learned > 7.0


def test_bad_combinations_raise_clear_errors() -> None:
    env = CueMatch()
    with pytest.raises(ValueError, match="mappo"):
        IQL(*spaces_of(env), IQLConfig("ppo", {}, share_parameters=True))
    with pytest.raises(ValueError, match="mappo"):
        IQL(*spaces_of(env), IQLConfig("reinforce", {}, share_parameters=True))
    IQL(*spaces_of(env), IQLConfig("ppo", {}, share_parameters=False))  # fine unshared
    with pytest.raises(ValueError, match="n_step"):
        IQL(*spaces_of(env), IQLConfig("dqn", {"n_step": 3}, share_parameters=True))
    with pytest.raises(ValueError, match="Ornstein"):
        IQL(*spaces_of(env), IQLConfig("ddpg", {"noise_type": "ou"}, share_parameters=True))
    with pytest.raises(ValueError, match="joint"):
        IQL(*spaces_of(env), IQLConfig("mfq", {}))
    obs_spaces, _ = spaces_of(env)
    mixed = {"a": spaces.Discrete(3), "b": spaces.Box(-1.0, 1.0, (2,), np.float32)}
    with pytest.raises(ValueError, match="Discrete or all 1-D Box"):
        IQL(obs_spaces, mixed, IQLConfig("dqn", {}, share_parameters=True))
    with pytest.raises(ValueError, match="Discrete action space"):
        IQL(obs_spaces, mixed, IQLConfig("dqn", {}, share_parameters=False))
    unbounded = {a: spaces.Box(-np.inf, np.inf, (2,), np.float32) for a in ("a", "b")}
    with pytest.raises(ValueError, match="finite Box"):
        IQL(obs_spaces, unbounded, IQLConfig("td3", {}, share_parameters=True))
