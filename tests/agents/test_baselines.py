"""The baselines: `random` (any space, masks, seeding) and `noop` (fixed action, masks)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from pz_loops import play_aec, play_parallel

from testbed.agents.baselines.noop import NoopConfig, NoopPolicy, default_action
from testbed.agents.baselines.random import RandomConfig, RandomPolicy
from testbed.errors import BadInput
from testbed.registry import make_agent, make_env

OBS = spaces.Box(-1.0, 1.0, (2,), np.float32)
SPACES = {
    "discrete": spaces.Discrete(5),
    "discrete_start": spaces.Discrete(4, start=2),
    "box": spaces.Box(-1.0, 1.0, (3,), np.float32),
    "box_int": spaces.Box(0, 10, (2,), np.int64),
    "box_unbounded": spaces.Box(-np.inf, np.inf, (2,), np.float32),
    "box_one_sided": spaces.Box(np.array([-5.0, -np.inf]), np.array([np.inf, 3.0]), (2,)),
    "multi_discrete": spaces.MultiDiscrete([3, 4]),
    "multi_binary": spaces.MultiBinary([2, 3]),
    "tuple": spaces.Tuple((spaces.Discrete(2), spaces.Box(0.0, 1.0, (2,), np.float32))),
    "dict": spaces.Dict({"move": spaces.Discrete(3), "flags": spaces.MultiBinary(2)}),
}


def draws(policy, n: int = 100, mask=None) -> list:
    return [policy.act(None, mask) for _ in range(n)]


# ---------------------------------------------------------------------------------------------
# random


@pytest.mark.parametrize("name", list(SPACES))
def test_random_stays_in_any_space_and_repeats_with_its_seed(name: str) -> None:
    space = SPACES[name]
    policy = RandomPolicy(OBS, space)
    policy.reset(seed=11)
    first = draws(policy)
    assert all(space.contains(a) for a in first), name
    policy.reset(seed=11)
    assert repr(draws(policy)) == repr(first)
    policy.reset(seed=12)
    assert repr(draws(policy)) != repr(first)


def test_random_uses_all_legal_actions_and_only_them() -> None:
    policy = RandomPolicy(OBS, spaces.Discrete(6, start=10))
    policy.reset(seed=0)
    mask = np.array([0, 1, 0, 0, 1, 0], dtype=np.int8)
    assert set(int(a) for a in draws(policy, 200, mask)) == {11, 14}
    assert set(int(a) for a in draws(policy, 200)) == set(range(10, 16))
    with pytest.raises(ValueError, match="no action"):
        policy.act(None, np.zeros(6, dtype=np.int8))


def test_random_is_roughly_uniform() -> None:
    policy = RandomPolicy(OBS, spaces.Discrete(4), RandomConfig(seed=5))
    counts = np.bincount([int(a) for a in draws(policy, 4000)], minlength=4)
    assert counts.min() > 900 and counts.max() < 1100


def test_random_config_seed_is_the_fallback() -> None:
    one = RandomPolicy(OBS, spaces.Discrete(100), RandomConfig(seed=3))
    two = RandomPolicy(OBS, spaces.Discrete(100), RandomConfig(seed=3))
    one.reset()
    two.reset()
    assert draws(one, 20) == draws(two, 20)


def test_random_rejects_unknown_spaces_at_build_time() -> None:
    with pytest.raises(BadInput, match="cannot act"):
        make_agent("random", OBS, spaces.Text(5))


# ---------------------------------------------------------------------------------------------
# noop


def test_noop_default_actions() -> None:
    assert default_action(SPACES["discrete"]) == 0
    assert default_action(SPACES["discrete_start"]) == 2
    np.testing.assert_array_equal(default_action(SPACES["box"]), np.zeros(3))
    np.testing.assert_array_equal(default_action(SPACES["box_int"]), [5, 5])
    np.testing.assert_array_equal(default_action(SPACES["box_one_sided"]), [-5.0, 3.0])
    np.testing.assert_array_equal(default_action(spaces.Box(0.0, 1.0, (5,))), np.full(5, 0.5))
    np.testing.assert_array_equal(default_action(SPACES["multi_binary"]), np.zeros((2, 3)))
    assert default_action(SPACES["dict"])["move"] == 0
    for name, space in SPACES.items():
        assert space.contains(NoopPolicy(OBS, space).act(None)), name


def test_noop_respects_masks() -> None:
    policy = NoopPolicy(OBS, spaces.Discrete(5, start=1), NoopConfig(action=3))
    assert policy.act(None) == 3
    assert policy.act(None, np.array([1, 1, 1, 1, 1])) == 3
    assert policy.act(None, np.array([0, 0, 0, 1, 1])) == 4  # 3 illegal: first legal
    with pytest.raises(ValueError, match="no action"):
        policy.act(None, np.zeros(5))


def test_noop_configured_actions_are_checked() -> None:
    box = spaces.Box(0.0, 1.0, (5,), np.float32)
    agent = make_agent("noop", OBS, box, action=0.25)
    np.testing.assert_array_equal(agent.act(None), np.full(5, 0.25, np.float32))
    agent = make_agent("noop", OBS, box, action=[0, 1, 0, 0, 0])
    assert agent.act(None).dtype == np.float32 and agent.act(None)[1] == 1.0
    with pytest.raises(BadInput, match="not in the action space"):
        make_agent("noop", OBS, box, action=2.0)
    with pytest.raises(BadInput, match="not in the action space"):
        make_agent("noop", OBS, spaces.Discrete(3), action=3)
    with pytest.raises(BadInput, match="not an integer"):
        make_agent("noop", OBS, spaces.Discrete(3), action=1.5)
    with pytest.raises(BadInput, match="leave it unset"):
        make_agent("noop", OBS, SPACES["tuple"], action=1)


# ---------------------------------------------------------------------------------------------
# through the registry, on real envs


@pytest.mark.parametrize(
    ("agent_id", "params", "config"),
    [
        ("random", {"seed": 4}, RandomConfig(seed=4)),
        ("random", {}, RandomConfig()),
        ("noop", {"action": 2}, NoopConfig(action=2)),
        ("noop", {}, NoopConfig()),
    ],
)
def test_config_round_trips_through_the_registry(agent_id: str, params: dict, config) -> None:
    agent = make_agent(agent_id, OBS, spaces.Discrete(5), **params)
    assert agent.config == config
    with pytest.raises(BadInput, match="has no parameter 'sede'") as error:
        make_agent(agent_id, OBS, spaces.Discrete(5), sede=1, **params)
    assert "accepts" in str(error.value)


def test_registry_rejects_badly_typed_parameters() -> None:
    with pytest.raises(BadInput, match="'seed'"):
        make_agent("random", OBS, spaces.Discrete(5), seed="soon")
    with pytest.raises(BadInput, match="parameter 'action"):
        make_agent("noop", OBS, spaces.Discrete(5), action={"a": 1})


@pytest.mark.parametrize("agent_id", ["random", "noop"])
@pytest.mark.parametrize("continuous", [False, True])
def test_baselines_play_mpe_spread(agent_id: str, continuous: bool) -> None:
    env = make_env("mpe/simple_spread_v3", continuous_actions=continuous)
    policies = {
        a: make_agent(agent_id, env.observation_space(a), env.action_space(a))
        for a in env.possible_agents
    }
    totals = [play_parallel(env, policies, seed) for seed in range(4)]  # 100 steps
    if agent_id == "random":
        assert totals[0] != totals[1]
        assert totals[0] == play_parallel(env, policies, 0)  # same seed, same episode


@pytest.mark.parametrize("agent_id", ["random", "noop"])
def test_baselines_play_masked_connect_four(agent_id: str) -> None:
    env = make_env("classic/connect_four_v3")
    policies = {
        a: make_agent(agent_id, env.observation_space(a), env.action_space(a))
        for a in env.possible_agents
    }
    results = [play_aec(env, policies, seed) for seed in range(10)]  # asserts moves are legal
    for result in results:
        assert sum(result.values()) == 0.0 and set(result.values()) <= {-1.0, 0.0, 1.0}
    if agent_id == "noop":  # always the leftmost legal column: the same game every time
        assert all(result == results[0] for result in results)
    else:
        assert len({tuple(result.values()) for result in results}) > 1
