"""The offline learners' other action kinds (the registry-wide test covers each on its
`try_env`): they train on a small dataset, round-trip their checkpoint, and BC / CQL learn a
trivially learnable dataset (the action equals the sign of the first observation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from testbed.agents.common.nets import deterministic_torch
from testbed.registry import make_agent

OBS = spaces.Box(-1.0, 1.0, (3,), np.float32)
DISCRETE = spaces.Discrete(2)
BOX = spaces.Box(-2.0, 2.0, (1,), np.float32)


def dataset(action_space: spaces.Space, n: int = 512) -> dict[str, np.ndarray]:
    """Observations uniform in the box; the action is 1 (discrete) or the top of the range
    (continuous) when obs[0] > 0, else 0 / the bottom; reward 1 for that action."""
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, (n + 1, 3)).astype(np.float32)
    good = obs[:-1, 0] > 0
    if isinstance(action_space, spaces.Discrete):
        actions = good.astype(np.int64)
    else:
        actions = np.where(good, 2.0, -2.0).astype(np.float32)[:, None]
    return {
        "observations": obs[:-1],
        "next_observations": obs[1:],
        "actions": actions,
        "rewards": np.ones(n, np.float32),
        "costs": np.zeros(n, np.float32),
        "terminations": np.zeros(n, bool),
        "truncations": np.zeros(n, bool),
    }


CASES = [
    ("bc", BOX, {}),
    ("cql", BOX, {"hidden": [32, 32], "batch_size": 64}),
    ("implicit_q", DISCRETE, {"hidden": [32, 32], "batch_size": 64}),
]


@pytest.mark.parametrize(("agent_id", "action_space", "params"), CASES, ids=lambda c: str(c))
def test_trains_and_round_trips(agent_id, action_space, params):
    deterministic_torch(0)
    agent = make_agent(agent_id, OBS, action_space, **params)
    agent.load_data(dataset(action_space))
    for _ in range(200):
        metrics = agent.update()
    assert all(np.isfinite(v) for v in metrics.values()), metrics
    twin = make_agent(agent_id, OBS, action_space, **params)
    state = agent.state_dict()
    twin.load_state_dict(state)
    probe = np.random.default_rng(1).uniform(-1, 1, (20, 3)).astype(np.float32)
    for o in probe:
        assert np.array_equal(np.asarray(agent.act(o)), np.asarray(twin.act(o)))
    for key, value in twin.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, state[key])


@pytest.mark.parametrize("agent_id", ["bc", "cql"])
@pytest.mark.parametrize("action_space", [DISCRETE, BOX], ids=["discrete", "box"])
def test_learns_the_demonstrated_rule(agent_id, action_space):
    deterministic_torch(0)
    params = {}
    if agent_id == "cql":  # faster actor than the default, for a 300-step test
        params = {"hidden": [32, 32], "batch_size": 64, "actor_learning_rate": 1e-3}
    agent = make_agent(agent_id, OBS, action_space, **params)
    agent.load_data(dataset(action_space))
    for _ in range(300):
        agent.update()
    probe = np.random.default_rng(2).uniform(-1, 1, (200, 3)).astype(np.float32)
    acts = np.array([np.asarray(agent.act(o)).reshape(-1)[0] for o in probe])
    wanted = probe[:, 0] > 0
    chosen = acts > (0.5 if isinstance(action_space, spaces.Discrete) else 0.0)
    assert (chosen == wanted).mean() > 0.9


def test_update_before_data_says_so():
    agent = make_agent("td3_bc", OBS, BOX)
    with pytest.raises(RuntimeError, match="before load_data"):
        agent.update()


def test_dagger_aggregates_rounds_and_imitates_its_expert():
    from testbed.registry import make_env
    from testbed.train.loop import train

    deterministic_torch(0)
    env = make_env("gym/CartPole-v1")
    obs, act = env.observation_space("agent_0"), env.action_space("agent_0")
    params = {"expert": "noop", "expert_params": {"action": 1}, "round_steps": 100}
    dagger = make_agent("dagger", obs, act, gradient_steps=100, **params)
    state = train(env, {"agent_0": dagger}, 300, seed=0)
    metrics = state.metrics["agent_0"]
    assert dagger.rounds == 3 and metrics["labelled_states"] == 300
    assert dagger.beta == pytest.approx(0.125)
    probe = np.random.default_rng(3).normal(0, 0.1, (50, 4)).astype(np.float32)
    assert all(int(dagger.act(o)) == 1 for o in probe)  # the expert always pushes right


def test_dagger_checkpoint_keeps_the_aggregate(tmp_path):
    from testbed.registry import make_env
    from testbed.registry.checkpoint import load_checkpoint, save_checkpoint
    from testbed.train.loop import train

    deterministic_torch(0)
    env = make_env("gym/CartPole-v1")
    obs, act = env.observation_space("agent_0"), env.action_space("agent_0")
    params = {"expert": "noop", "expert_params": {"action": 1}, "round_steps": 50}
    dagger = make_agent("dagger", obs, act, gradient_steps=20, **params)
    train(env, {"agent_0": dagger}, 100, seed=0)
    save_checkpoint(
        tmp_path, dagger, agent_id="dagger", params=params, observation_space=obs,
        action_space=act,
    )  # fmt: skip
    again = load_checkpoint(tmp_path, obs, act)
    assert again.rounds == dagger.rounds == 2 and len(again.states) == 100
    np.testing.assert_array_equal(np.asarray(again.states), np.asarray(dagger.states))
    assert [int(a) for a in again.labels] == [int(a) for a in dagger.labels] == [1] * 100
