"""Value-based learners: q_learning, dqn (with its options), c51.

Each runs a few hundred steps through the harness's training loop, round-trips a checkpoint,
repeats exactly under the same seed, learns a tiny task clearly better than chance, honours
action masks and rejects spaces it cannot handle. Learning to the published level is the
benchmark's job (benchmarks/learning.py).
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
from testbed.agents.common.value import NStepAccumulator, linear_epsilon
from testbed.agents.value.c51 import C51, C51Config
from testbed.agents.value.dqn import DQN, DQNConfig
from testbed.agents.value.q_learning import QLearning, QLearningConfig
from testbed.errors import BadInput
from testbed.registry import make_agent
from testbed.registry.checkpoint import load_checkpoint, save_checkpoint
from testbed.train.loop import evaluate, train


class MatchTheSign(ParallelEnv):
    """One agent sees a random sign each step and earns +1 for naming it (action 0 for -1,
    action 1 for +1), -1 otherwise; 10 steps per episode (truncation). Action 2 is always
    illegal (the info's mask forbids it; taking it raises). Random play scores 0 on average,
    perfect play 10."""

    metadata = {"name": "match_the_sign_v0", "render_modes": [], "is_parallelizable": True}
    MASK = np.array([1, 1, 0], dtype=np.int8)

    def __init__(self, discrete_obs: bool = False, horizon: int = 10):
        self.discrete_obs = discrete_obs
        self.horizon = horizon
        self.possible_agents = ["agent_0"]
        self.agents: list[str] = []

    @functools.cache  # noqa: B019
    def observation_space(self, agent: str) -> spaces.Space:
        if self.discrete_obs:
            return spaces.Discrete(2)
        return spaces.Box(-1.0, 1.0, (2,), np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(3)

    def _obs(self) -> Any:
        if self.discrete_obs:
            return self.sign
        return np.array([2.0 * self.sign - 1.0, 1.0], dtype=np.float32)

    def _info(self) -> dict[str, Any]:
        return {"agent_0": {"cost": 0.0, "action_mask": self.MASK.copy()}}

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.rng = np.random.default_rng(seed)
        self.t = 0
        self.sign = int(self.rng.integers(2))
        self.agents = ["agent_0"]
        return {"agent_0": self._obs()}, self._info()

    def step(self, actions: dict[str, Any]):
        action = int(actions["agent_0"])
        if action == 2:
            raise AssertionError("illegal action taken")
        reward = 1.0 if action == self.sign else -1.0
        self.t += 1
        self.sign = int(self.rng.integers(2))
        truncated = self.t >= self.horizon
        if truncated:
            self.agents = []
        return (
            {"agent_0": self._obs()},
            {"agent_0": reward},
            {"agent_0": False},
            {"agent_0": truncated},
            self._info(),
        )


FAST_DQN = {
    "hidden": (32,),
    "learning_rate": 1e-3,
    "buffer_size": 2_000,
    "batch_size": 32,
    "learning_starts": 100,
    "train_freq": 2,
    "target_update_interval": 50,
    "epsilon_decay_steps": 500,
}
FAST_C51 = {**FAST_DQN, "n_atoms": 25, "v_min": -12.0, "v_max": 12.0}
CASES = {
    "q_learning": ("q_learning", True, {"learning_rate": 0.2, "epsilon_decay_steps": 300}),
    "dqn": ("dqn", False, FAST_DQN),
    "dqn_double_dueling_nstep_polyak_mse": (
        "dqn",
        False,
        {
            **FAST_DQN,
            "double": True,
            "dueling": True,
            "n_step": 3,
            "tau": 0.1,
            "target_update_interval": 1,
            "loss": "mse",
        },
    ),
    "c51": ("c51", False, FAST_C51),
    "c51_nstep": ("c51", False, {**FAST_C51, "n_step": 3}),
}


def build(case: str, seed: int = 0) -> tuple[Any, MatchTheSign, str, dict[str, Any]]:
    agent_id, discrete_obs, params = CASES[case]
    deterministic_torch(seed)
    env = MatchTheSign(discrete_obs)
    learner = make_agent(
        agent_id, env.observation_space("agent_0"), env.action_space("agent_0"), **params
    )
    return learner, env, agent_id, params


def flat_state(learner: Any) -> list[Any]:
    def walk(value: Any) -> list[Any]:
        if isinstance(value, dict):
            return [item for key in sorted(value, key=str) for item in walk(value[key])]
        if isinstance(value, list | tuple):
            return [item for v in value for item in walk(v)]
        return [value]

    return walk(learner.state_dict())


@pytest.mark.parametrize("case", list(CASES))
def test_trains_a_few_hundred_steps_with_finite_metrics(case: str) -> None:
    learner, env, _, _ = build(case)
    seen: list[dict[str, float]] = []
    state = train(
        env,
        {"agent_0": learner},
        300,
        seed=0,
        on_step=lambda s: seen.append(dict(s.metrics.get("agent_0", {}))),
    )
    assert state.step == 300
    metrics = [m for m in seen if m]
    assert metrics, "no update reported metrics"
    assert all(np.isfinite(v) for m in metrics for v in m.values())
    assert learner.state_dict()["steps"] == 300


@pytest.mark.parametrize("case", ["q_learning", "dqn_double_dueling_nstep_polyak_mse", "c51"])
def test_checkpoint_round_trip_keeps_actions_and_training_state(case: str, tmp_path) -> None:
    learner, env, agent_id, params = build(case)
    train(env, {"agent_0": learner}, 250, seed=1)
    obs_space, act_space = env.observation_space("agent_0"), env.action_space("agent_0")
    save_checkpoint(
        tmp_path / "ckpt",
        learner,
        agent_id=agent_id,
        params=params,
        observation_space=obs_space,
        action_space=act_space,
    )
    loaded = load_checkpoint(tmp_path / "ckpt", obs_space, act_space)
    observations = [obs_space.sample() for _ in range(32)]
    assert [learner.act(o) for o in observations] == [loaded.act(o) for o in observations]
    for a, b in zip(flat_state(learner), flat_state(loaded), strict=True):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b)
        else:
            assert a == b
    assert loaded.epsilon == learner.epsilon


@pytest.mark.parametrize("case", ["q_learning", "dqn_double_dueling_nstep_polyak_mse", "c51"])
def test_same_seed_same_weights(case: str) -> None:
    def run(seed: int) -> list[Any]:
        learner, env, _, _ = build(case, seed)
        train(env, {"agent_0": learner}, 300, seed=seed)
        return [t for t in flat_state(learner) if isinstance(t, torch.Tensor)]

    first, again, other = run(3), run(3), run(4)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize(("case", "steps"), [("q_learning", 600), ("dqn", 1_200), ("c51", 1_200)])
def test_learns_to_match_the_sign(case: str, steps: int) -> None:
    learner, env, _, _ = build(case)
    before, _ = evaluate(MatchTheSign(env.discrete_obs), {"agent_0": learner}, 7, 10)
    train(env, {"agent_0": learner}, steps, seed=0)
    after, _ = evaluate(MatchTheSign(env.discrete_obs), {"agent_0": learner}, 7, 10)
    assert after >= 9.0, (before, after)  # random play: 0 +- ~1 over 10 episodes of 10 steps


@pytest.mark.parametrize("cls", [QLearning, DQN, C51])
def test_rejects_a_box_action_space(cls: type) -> None:
    obs = spaces.Discrete(4) if cls is QLearning else spaces.Box(-1.0, 1.0, (3,), np.float32)
    with pytest.raises(ValueError, match="Discrete action space"):
        cls(obs, spaces.Box(-1.0, 1.0, (2,), np.float32), None)


def test_q_learning_rejects_a_box_observation_space() -> None:
    with pytest.raises(ValueError, match="Discrete observation space"):
        QLearning(spaces.Box(-1.0, 1.0, (3,)), spaces.Discrete(2), QLearningConfig())


@pytest.mark.parametrize(("cls", "config"), [(DQN, DQNConfig()), (C51, C51Config())])
def test_masks_and_action_space_offset_are_honoured(cls: type, config: Any) -> None:
    deterministic_torch(0)
    learner = cls(spaces.Box(-1.0, 1.0, (3,), np.float32), spaces.Discrete(4, start=10), config)
    mask = np.array([0, 0, 1, 0], dtype=np.int8)
    obs = np.zeros(3, np.float32)
    assert {int(learner.explore(obs, mask)) for _ in range(50)} == {12}  # epsilon = 1 here
    assert int(learner.act(obs, mask)) == 12
    assert {int(learner.explore(obs)) for _ in range(200)} == {10, 11, 12, 13}


def test_n_step_accumulator_sums_discounted_rewards_and_flushes_at_episode_end() -> None:
    acc = NStepAccumulator(3, 0.5)

    def step(r: float, done: bool = False, truncated: bool = False) -> dict[str, Any]:
        return {
            "obs": r,
            "action": 0,
            "reward": r,
            "next_obs": r + 1,
            "done": done,
            "truncated": truncated,
            "next_action_mask": None,
        }

    assert acc.push(step(1.0)) == [] and acc.push(step(2.0)) == []
    (row,) = acc.push(step(4.0))
    assert row["reward"] == 1.0 + 0.5 * 2.0 + 0.25 * 4.0 and row["discount"] == 0.125
    assert row["obs"] == 1.0 and row["next_obs"] == 5.0 and not row["done"]
    rows = acc.push(step(8.0, truncated=True))  # (2, 4, 8), then (4, 8), then (8)
    assert [r["obs"] for r in rows] == [2.0, 4.0, 8.0]
    assert [r["discount"] for r in rows] == [0.125, 0.25, 0.5]
    assert [r["reward"] for r in rows] == [2.0 + 2.0 + 2.0, 4.0 + 4.0, 8.0]
    assert all(r["next_obs"] == 9.0 and not r["done"] for r in rows)
    rows = acc.push(step(1.0, done=True))
    assert len(rows) == 1 and rows[0]["done"]


def test_linear_epsilon() -> None:
    assert linear_epsilon(1.0, 0.1, 100, 0) == 1.0
    assert linear_epsilon(1.0, 0.1, 100, 50) == pytest.approx(0.55)
    assert linear_epsilon(1.0, 0.1, 100, 1_000) == pytest.approx(0.1)


def test_c51_projection_keeps_mass_and_centres_the_target() -> None:
    deterministic_torch(0)
    learner = C51(
        spaces.Box(-1.0, 1.0, (2,), np.float32),
        spaces.Discrete(2),
        C51Config(n_atoms=5, v_min=-2.0, v_max=2.0, hidden=(8,)),
    )
    batch = {
        "next_obs": torch.zeros(3, 2),
        "rewards": torch.tensor([0.5, 10.0, 0.0]),
        "dones": torch.tensor([1.0, 0.0, 0.0]),
        "discounts": torch.tensor([0.9, 0.9, 1.0]),
        "next_masks": torch.ones(3, 2, dtype=torch.bool),
    }
    m = learner.target_distribution(batch)
    assert torch.allclose(m.sum(1), torch.ones(3))
    # terminal with r = 0.5 between atoms 0 and 1: half on each
    assert torch.allclose(m[0], torch.tensor([0.0, 0.0, 0.5, 0.5, 0.0]))
    # r = 10 is clipped to v_max: all mass on the last atom
    assert torch.allclose(m[1], torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0]))
    # r = 0, discount 1: the target is the next distribution itself
    next_probs = learner._log_probs(learner.target, batch["next_obs"][2:]).exp()[0]
    q = (next_probs * learner.atoms).sum(-1)
    assert torch.allclose(m[2], next_probs[int(q.argmax())], atol=1e-6)


def test_q_learning_step_size_decays_when_asked_and_is_checked() -> None:
    space = spaces.Discrete(3)

    def backed_up(config: QLearningConfig, transitions: int) -> float:
        agent = QLearning(space, spaces.Discrete(2), config)
        for _ in range(transitions):
            agent.observe({"obs": 0, "action": 0, "reward": 1.0, "next_obs": 1,
                           "terminated": True})  # fmt: skip
            agent.update()
        return float(agent.q[0, 0])

    # constant alpha 0.5: 1 - 0.5 ** n; decaying 0.5 -> 0.1 over 4 steps: smaller steps
    assert backed_up(QLearningConfig(learning_rate=0.5), 2) == pytest.approx(0.75)
    decaying = QLearningConfig(
        learning_rate=0.5, learning_rate_end=0.1, learning_rate_decay_steps=4
    )
    # step 1: alpha 0.4 -> 0.4; step 2: alpha 0.3 -> 0.4 + 0.3 * 0.6 = 0.58
    assert backed_up(decaying, 2) == pytest.approx(0.58)
    with pytest.raises(ValueError, match="learning_rate_end"):
        QLearningConfig(learning_rate_end=0.0, learning_rate_decay_steps=10)
    with pytest.raises(ValueError, match="learning_rate_decay_steps"):
        QLearningConfig(learning_rate_decay_steps=-1)
    with pytest.raises(ValueError, match="go together"):
        QLearningConfig(learning_rate_end=0.05)  # no decay steps: would stay constant
    with pytest.raises(BadInput, match="parameter 'learning_rate_end': learning_rate_end must"):
        make_agent("q_learning", space, spaces.Discrete(2), learning_rate_end=2.0,
                   learning_rate_decay_steps=10)  # fmt: skip
