"""The probabilistic ensemble (fit, held-out one- and multi-step errors, checkpoint) and PETS's
CEM planner (on the true CartPole dynamics it balances the pole; bad settings are bad input)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from testbed.agents.common.nets import deterministic_torch
from testbed.agents.model_based.ensemble import DynamicsModel
from testbed.envs.cartpole_continuous import cartpole_step
from testbed.errors import BadInput
from testbed.registry import make_agent, make_env
from testbed.train.loop import train


def linear_data(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    obs = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    action = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
    next_obs = obs + 0.1 * np.concatenate([action, -action], axis=1)
    return {"obs": obs, "action": action, "next_obs": next_obs,
            "reward": (-np.abs(next_obs).sum(1)).astype(np.float32)}  # fmt: skip


def test_ensemble_learns_a_linear_system_and_reports_errors() -> None:
    deterministic_torch(0)
    rng = np.random.default_rng(0)
    model = DynamicsModel(2, 1, learned_reward=True, members=3, hidden=(32,))
    model.fit(linear_data(200, rng), epochs=60, batch_size=32)
    held_out = linear_data(30, rng)  # one 30-step "episode" of independent rows
    errors = model.errors([held_out], horizons=(1, 5, 50))
    assert set(errors) == {"mse_1_step", "mse_5_step"}  # 50 steps do not fit the episode
    still = float(((held_out["next_obs"] - held_out["obs"]) ** 2).mean())  # s' = s guess
    assert errors["mse_1_step"] < 0.1 * still
    copy = DynamicsModel(2, 1, learned_reward=True, members=3, hidden=(32,))
    copy.load_state_dict(model.state_dict())
    assert copy.errors([held_out], horizons=(1,)) == model.errors([held_out], horizons=(1,))


class TrueCartPole:
    """The exact CartPole dynamics in the model's place (members rows in parallel)."""

    members = 5

    def step(self, obs, actions, sample=True, generator=None):
        nxt = cartpole_step(obs.double().numpy(), 10.0 * actions[..., 0].double().numpy())
        return torch.as_tensor(nxt, dtype=torch.float32), None


def test_cem_planner_balances_the_pole_with_the_true_model() -> None:
    deterministic_torch(0)
    env = make_env("testbed/cartpole_continuous_v0")
    pets = make_agent("pets", env.observation_space("agent_0"), env.action_space("agent_0"),
                      reward_fn="cartpole", population=100, iterations=3, horizon=15,
                      particles=5)  # fmt: skip
    pets.model = TrueCartPole()
    pets.planning = True
    obs, _ = env.reset(seed=3)
    pets.reset(3)
    total = 0.0
    while env.agents:
        obs, reward, *_ = env.step({"agent_0": pets.act(obs["agent_0"])})
        total += reward["agent_0"]
    assert total == 200.0


@pytest.mark.parametrize(
    ("params", "message"),
    [({"reward_fn": "walker"}, "reward_fn"), ({"particles": 7}, "multiple of members")],
)
def test_bad_pets_settings_are_bad_input(params: dict, message: str) -> None:
    env = make_env("testbed/cartpole_continuous_v0")
    with pytest.raises(BadInput, match=message):
        make_agent("pets", env.observation_space("agent_0"), env.action_space("agent_0"),
                   **params)  # fmt: skip


def mbpo_on_pendulum(**params):
    env = make_env("gym/Pendulum-v1")
    settings = {"members": 2, "hidden_model": [16], "model_epochs": 2, "random_steps": 40,
                "model_train_freq": 20, "rollout_batch": 30, "rollout_length": 2,
                "updates_per_step": 2, "batch_size": 16, "hidden": [16], **params}  # fmt: skip
    return env, make_agent("mbpo", env.observation_space("agent_0"),
                           env.action_space("agent_0"), **settings)  # fmt: skip


def test_mbpo_refits_rolls_out_and_reports_held_out_errors() -> None:
    deterministic_torch(0)
    env, mbpo = mbpo_on_pendulum()
    seen: list[dict[str, float]] = []

    def on_step(state) -> None:
        seen.append(dict(state.metrics.get("agent_0", {})))

    train(env, {"agent_0": mbpo}, 100, 0, on_step=on_step)
    assert mbpo.model.fits == 4  # steps 40, 60, 80, 100
    refits = [m for m in seen if "model_nll" in m]
    assert len(refits) == 4 and "mse_1_step" not in refits[0]  # nothing held out before
    assert all(np.isfinite(m["mse_1_step"]) and "mse_10_step" in m for m in refits[1:])
    # rollouts of 2 steps from 30 states per refit; the buffer keeps the last refit's
    assert mbpo.imagined.size == 60
    assert mbpo.sac.updates == 2 * 61  # steps 40..100, 2 SAC steps each
    copy = mbpo_on_pendulum()[1]
    copy.load_state_dict(mbpo.state_dict())
    obs = np.array([1.0, 0.0, 0.5], np.float32)
    assert np.allclose(copy.act(obs), mbpo.act(obs)) and copy.model.fits == 4


def test_mbpo_with_a_known_reward_stops_rollouts_that_terminate() -> None:
    deterministic_torch(0)
    env = make_env("testbed/cartpole_continuous_v0")
    mbpo = make_agent("mbpo", env.observation_space("agent_0"), env.action_space("agent_0"),
                      reward_fn="cartpole", members=2, hidden_model=[8], model_epochs=1,
                      random_steps=30, model_train_freq=30, rollout_batch=50, rollout_length=5,
                      updates_per_step=1, batch_size=8, hidden=[8])  # fmt: skip
    train(env, {"agent_0": mbpo}, 30, 0)
    rows = mbpo.imagined.size
    assert 50 <= rows <= 250
    dones = mbpo.imagined.dones[:rows]
    assert rows == 250 or dones.sum() > 0  # rollouts stop only after a termination
    rewards = mbpo.imagined.rewards[:rows]
    assert np.all(rewards[dones == 0] == 1.0) and np.all(rewards[dones == 1] == 0.0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"reward_fn": "walker"}, "reward_fn"),
        ({"real_ratio": 2.0}, "real_ratio"),
        ({"rollout_length": 0}, "rollout_length"),
        ({"members": 0, "batch_size": 0}, "members, batch_size must be >= 1"),
        ({"model_epochs": 0}, "model_epochs"),
        ({"reward_fn": "cartpole"}, "reads 4-dimensional observations"),  # on Pendulum
    ],
)
def test_bad_mbpo_settings_are_bad_input(params: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        mbpo_on_pendulum(**params)
