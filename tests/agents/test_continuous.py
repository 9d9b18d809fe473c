"""Continuous-control learners (DDPG, TD3, SAC): training runs, checkpoints, determinism,
a fast learning check on a one-step target-tracking task, and space errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from testbed.agents.common.continuous import ActionScaler, ExplorationNoise
from testbed.agents.common.nets import deterministic_torch
from testbed.registry import agent_class, make_agent, make_env
from testbed.registry.checkpoint import load_checkpoint, save_checkpoint
from testbed.train.loop import evaluate, train

ALGOS = ("ddpg", "td3", "sac")
SMALL = {"hidden": (16, 16), "batch_size": 16, "learning_starts": 50, "buffer_size": 5_000}


class TargetTracking(ParallelEnv):
    """One step per episode: observe x ~ U(-1, 1), act a in [-1, 3], reward -(a - 1 - 2x)^2.

    Uniform random actions score -8/3 on average; the optimum is 0. Cost = |a - 1 - 2x| > 1.
    """

    metadata = {"name": "target_tracking_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self) -> None:
        self.possible_agents = ["agent_0"]
        self._obs_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self._act_space = spaces.Box(-1.0, 3.0, (1,), np.float32)
        self.rng = np.random.default_rng(0)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Box:
        return self._act_space

    def reset(self, seed: int | None = None, options: Any = None) -> tuple[dict, dict]:
        self.rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.x = self.rng.uniform(-1.0, 1.0, (1,)).astype(np.float32)
        return {"agent_0": self.x}, {"agent_0": {"cost": 0.0}}

    def step(self, actions: dict[str, Any]) -> tuple[dict, ...]:
        error = float(np.asarray(actions["agent_0"])[0] - (1.0 + 2.0 * self.x[0]))
        self.agents = []
        info = {"agent_0": {"cost": float(abs(error) > 1.0)}}
        return (
            {"agent_0": self.x},
            {"agent_0": -(error**2)},
            {"agent_0": True},
            {"agent_0": False},
            info,
        )


def build(algo: str, env: Any, **params: Any) -> Any:
    return make_agent(algo, env.observation_space("agent_0"), env.action_space("agent_0"), **params)


def flat_state(state: Any) -> list[Any]:
    """All leaves of a nested state dict, tensors as lists, in a fixed order."""
    if isinstance(state, dict):
        return [(k, flat_state(state[k])) for k in sorted(state, key=str)]
    if isinstance(state, list | tuple):
        return [flat_state(v) for v in state]
    if isinstance(state, torch.Tensor):
        return state.tolist()
    return state


@pytest.mark.parametrize("algo", ALGOS)
def test_trains_on_pendulum_with_finite_metrics_and_actions_in_bounds(algo: str) -> None:
    deterministic_torch(0)
    env = make_env("gym/Pendulum-v1")
    learner = build(algo, env, **SMALL)
    state = train(env, {"agent_0": learner}, 200, seed=0)
    metrics = state.metrics["agent_0"]
    assert {"critic_loss", "actor_loss", "q_mean"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())
    assert learner.steps == 200 and len(learner.buffer) == 200
    space = env.action_space("agent_0")
    obs, _ = env.reset(seed=1)
    for fn in (learner.act, learner.explore):
        action = fn(obs["agent_0"])
        assert action.dtype == np.float32 and action.shape == (1,) and space.contains(action)


@pytest.mark.parametrize("algo", ALGOS)
def test_checkpoint_round_trip_gives_identical_actions(algo: str, tmp_path: Any) -> None:
    deterministic_torch(1)
    env = make_env("gym/Pendulum-v1")
    learner = build(algo, env, **SMALL)
    train(env, {"agent_0": learner}, 120, seed=1)
    obs_space, act_space = env.observation_space("agent_0"), env.action_space("agent_0")
    save_checkpoint(
        tmp_path / "ckpt",
        learner,
        agent_id=algo,
        params=SMALL,
        observation_space=obs_space,
        action_space=act_space,
    )
    loaded = load_checkpoint(tmp_path / "ckpt", obs_space, act_space)
    observations = np.random.default_rng(0).uniform(-1, 1, (20, 3)).astype(np.float32)
    for obs in observations:
        np.testing.assert_array_equal(learner.act(obs), loaded.act(obs))
    assert flat_state(loaded.state_dict()) == flat_state(learner.state_dict())


@pytest.mark.parametrize("algo", ALGOS)
def test_same_seed_gives_identical_weights(algo: str) -> None:
    def run(seed: int) -> list[Any]:
        deterministic_torch(seed)
        env = TargetTracking()
        learner = build(algo, env, **SMALL)
        train(env, {"agent_0": learner}, 80, seed=seed)
        return flat_state(learner.state_dict())

    assert run(3) == run(3)
    assert run(3) != run(4)


@pytest.mark.parametrize("algo", ALGOS)
def test_learns_target_tracking_far_better_than_random(algo: str) -> None:
    deterministic_torch(0)
    env = TargetTracking()
    params = {**SMALL, "hidden": (32, 32), "batch_size": 32, "learning_rate": 3e-3}
    if algo == "td3":
        params["policy_delay"] = 1  # the actor needs enough steps within the tiny budget
    learner = build(algo, env, **params)
    train(env, {"agent_0": learner}, 300, seed=0)
    random_return, _ = evaluate(env, {"agent_0": build("random", env)}, seed=5, episodes=200)
    learned_return, _ = evaluate(env, {"agent_0": learner}, seed=5, episodes=200)
    assert random_return < -2.0
    assert learned_return > -0.3, learned_return
    assert learner.buffer.costs[:300].sum() > 0  # costs reach the replay buffer


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize(
    "action_space",
    [
        spaces.Discrete(3),
        spaces.Box(-np.inf, np.inf, (1,), np.float32),
        spaces.Box(-1.0, 1.0, (2, 2), np.float32),
    ],
    ids=["discrete", "unbounded", "2d"],
)
def test_rejects_wrong_action_space(algo: str, action_space: spaces.Space) -> None:
    cls = agent_class(algo)
    obs_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
    with pytest.raises(ValueError, match="1-D Box|finite action bounds"):
        cls(obs_space, action_space, None)


def test_action_scaler_round_trips_and_clips() -> None:
    scaler = ActionScaler(spaces.Box(np.array([-1.0, 0.0]), np.array([3.0, 10.0])), "test")
    np.testing.assert_allclose(scaler.to_env(np.array([-1.0, 1.0])), [-1.0, 10.0])
    np.testing.assert_allclose(scaler.to_env(np.array([0.0, 5.0])), [1.0, 10.0])
    np.testing.assert_allclose(scaler.to_unit(np.array([2.0, 2.5])), [0.5, -0.5])


def test_ou_noise_is_correlated_and_resets() -> None:
    torch.manual_seed(0)
    noise = ExplorationNoise(1, sigma=0.2, kind="ou", theta=0.15)
    draws = torch.stack([noise() for _ in range(500)]).squeeze(-1)
    lag1 = torch.corrcoef(torch.stack([draws[:-1], draws[1:]]))[0, 1]
    assert lag1 > 0.7
    noise.reset()
    assert float(noise.state.abs().sum()) == 0.0
    with pytest.raises(ValueError, match="noise_type"):
        ExplorationNoise(1, 0.1, "pink")


def test_sac_normalize_obs_standardises_inputs_and_checkpoints_its_statistics() -> None:
    deterministic_torch(0)
    env = make_env("gym/Pendulum-v1")
    space = env.observation_space("agent_0")
    sac = make_agent("sac", space, env.action_space("agent_0"), normalize_obs=True,
                     learning_starts=50, batch_size=16, hidden=[16])  # fmt: skip
    train(env, {"agent_0": sac}, 200, 0)
    stats = sac.normalizer
    assert stats.count == pytest.approx(200, abs=1e-6)
    assert np.all(np.abs(stats.mean[:2]) < 1.0) and stats.var[2] > 0.1  # cos, sin; theta dot
    assert float(np.abs(sac.buffer.obs[:200]).max()) > 1.0  # the replay keeps raw observations
    copy = make_agent("sac", space, env.action_space("agent_0"), normalize_obs=True,
                      batch_size=16, hidden=[16])  # fmt: skip
    copy.load_state_dict(sac.state_dict())
    obs = np.array([0.0, 1.0, 4.0], np.float32)
    assert np.allclose(copy.act(obs), sac.act(obs))
    assert np.allclose(copy.normalizer.mean, stats.mean)
