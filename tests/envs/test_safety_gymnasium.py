"""Safety-Gymnasium inside testbed: the Python 3.11 import step, the adapters, and equality of
rewards and costs with Safety-Gymnasium used directly."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys

import gymnasium  # noqa: F401  (before pettingzoo; docs/STACK.md, trap 4)
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from testbed.errors import BadInput
from testbed.registry import ENVS, make_env

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("safety_gymnasium") is None,
    reason="safety-gymnasium is not installed (`make` installs it)",
)

NAV, VELOCITY, MULTI = (
    "safety/SafetyPointGoal2-v0",
    "safety/SafetyHalfCheetahVelocity-v1",
    "safety-ma/HalfCheetah-2x3",
)


@pytest.fixture(scope="module")
def sg():
    from testbed.envs.safety_compat import import_safety_gymnasium

    return import_safety_gymnasium()


# ---------------------------------------------------------------------------------------------
# The compatibility step


def _array_default_dataclass() -> type:
    @dataclasses.dataclass
    class Colored:
        color: np.ndarray = np.array([1.0, 0.0, 0.0])

    return Colored


def test_import_is_idempotent_and_leaves_dataclasses_alone(sg):
    from testbed.envs.safety_compat import import_safety_gymnasium

    assert import_safety_gymnasium() is sg is sys.modules["safety_gymnasium"]
    assert dataclasses._get_field.__module__ == "dataclasses"
    assert not hasattr(dataclasses._get_field, "__wrapped__")
    with pytest.raises(ValueError, match="mutable default"):
        _array_default_dataclass()  # Python 3.11's own rule holds again for user code


def test_patch_turns_unhashable_defaults_into_copying_factories():
    from testbed.envs.safety_compat import unhashable_defaults_as_factories

    with unhashable_defaults_as_factories():
        colored = _array_default_dataclass()
        with pytest.raises(ValueError, match="mutable default"):

            @dataclasses.dataclass
            class Listed:  # lists stay rejected, as in every Python version
                items: list = []  # noqa: RUF012

    first, second = colored(), colored()
    assert np.array_equal(first.color, [1.0, 0.0, 0.0])
    assert first.color is not second.color  # a copy each, never a shared array
    assert isinstance(colored.color, np.ndarray)  # the class attribute is left as written
    with pytest.raises(ValueError, match="mutable default"):
        _array_default_dataclass()


def test_missing_safety_gymnasium_says_how_to_install(monkeypatch):
    from testbed.envs.safety_compat import import_safety_gymnasium

    monkeypatch.setitem(sys.modules, "safety_gymnasium", None)  # import now fails
    with pytest.raises(BadInput) as error:
        import_safety_gymnasium()
    message = str(error.value)
    assert "'safety_gymnasium'" in message
    assert "make" in message and "--no-deps safety-gymnasium==1.0.0" in message
    assert "testbed[safety]" in message


# ---------------------------------------------------------------------------------------------
# The adapters


@pytest.mark.parametrize("env_id", [NAV, VELOCITY, MULTI])
def test_parallel_api(env_id):
    env = make_env(env_id)
    parallel_api_test(env, num_cycles=40)
    _, infos = env.reset(seed=3)
    actions = {a: env.action_space(a).sample() for a in env.agents}
    *_, infos = env.step(actions)
    for agent in env.possible_agents:
        costs = infos[agent]["costs"]
        assert tuple(costs) == ENVS[env_id].costs == env.cost_names
        assert isinstance(infos[agent]["cost"], float)
        # Safety-Gymnasium's cost: 1.0 when any part is (its parts are indicators too)
        assert infos[agent]["cost"] == float(any(v > 0 for v in costs.values()))
    env.close()


@pytest.mark.parametrize("env_id", [NAV, MULTI])
def test_seeding(env_id):
    first, second = make_env(env_id), make_env(env_id)
    obs_other, _ = first.reset(seed=12)
    obs1, _ = first.reset(seed=11)
    obs2, _ = second.reset(seed=11)
    agent = first.possible_agents[0]
    assert np.array_equal(obs1[agent], obs2[agent])
    assert not np.array_equal(obs1[agent], obs_other[agent])
    rng = np.random.default_rng(0)
    for _ in range(30):
        actions = {a: rng.uniform(-1, 1, first.action_space(a).shape) for a in first.agents}
        obs1, rewards1, terms1, truncs1, infos1 = first.step(actions)
        obs2, rewards2, terms2, truncs2, infos2 = second.step(actions)
        assert all(np.array_equal(obs1[a], obs2[a]) for a in first.possible_agents)
        assert (rewards1, terms1, truncs1) == (rewards2, terms2, truncs2)
        assert [i["costs"] for i in infos1.values()] == [i["costs"] for i in infos2.values()]


@pytest.mark.parametrize(
    "env_id",
    [
        "safety/SafetyPointButton1-v0",
        "safety/SafetyPointPush2-v0",
        "safety/SafetyCarCircle1-v0",
    ],
)
def test_registry_costs_are_the_reported_parts(env_id):
    env = make_env(env_id)
    _, infos = env.reset(seed=0)
    assert env.cost_names == ENVS[env_id].costs
    assert tuple(infos["agent_0"]["costs"]) == ENVS[env_id].costs


def test_rgb_array_frames():
    for env_id in (NAV, MULTI):
        env = make_env(env_id, render_mode="rgb_array", width=96, height=64)
        env.reset(seed=0)
        first = env.render()
        assert first.shape == (64, 96, 3) and first.dtype == np.uint8
        assert first.std() > 5  # a picture, not a blank buffer
        env.reset(seed=1)  # navigation tasks build a new MuJoCo model here
        second = env.render()
        assert second.shape == first.shape and not np.array_equal(first, second)
        env.close()


def test_bad_parameters_are_rejected():
    with pytest.raises(BadInput, match="render_mode"):
        make_env(NAV, render_mode="human")
    with pytest.raises(BadInput, match="max_episode_steps"):
        make_env(MULTI, max_episode_steps=0)


# ---------------------------------------------------------------------------------------------
# Equality with Safety-Gymnasium used directly: same task, seed and actions -> same numbers.


def test_navigation_equals_safety_gymnasium(sg):
    steps, seed = 400, 7
    raw = sg.make("SafetyPointGoal2-v0")
    env = make_env(NAV)
    raw_obs, _ = raw.reset(seed=seed)
    obs, _ = env.reset(seed=seed)
    assert np.array_equal(raw_obs, obs["agent_0"])
    # Mostly forward, noisy: this sequence enters hazards and hits and pushes vases.
    noise = np.random.default_rng(0).normal(0.0, 0.5, size=(steps, 2))
    actions = np.clip(np.array([0.8, 0.0]) + noise, -1.0, 1.0)
    total_cost, fired = 0.0, set()
    for action in actions:
        raw_obs, reward, cost, terminated, truncated, info = raw.step(action)
        obs, rewards, terminations, truncations, infos = env.step({"agent_0": action})
        mine = infos["agent_0"]
        assert np.array_equal(raw_obs, obs["agent_0"])
        assert rewards["agent_0"] == reward
        assert mine["cost"] == cost
        assert mine["costs"] == {
            "hazards": info["cost_hazards"],
            "vases_contact": info["cost_vases_contact"],
            "vases_velocity": info["cost_vases_velocity"],
        }
        assert (terminations["agent_0"], truncations["agent_0"]) == (terminated, truncated)
        total_cost += cost
        fired |= {name for name, value in mine["costs"].items() if value > 0}
        if terminated or truncated:
            break
    # non-zero costs were compared too, for every part
    assert total_cost > 0 and fired == {"hazards", "vases_contact", "vases_velocity"}


@pytest.mark.parametrize("scenario, conf, env_id", [("HalfCheetah", "2x3", MULTI)])
def test_multi_agent_equals_safety_gymnasium(sg, scenario, conf, env_id):
    steps, seed, threshold = 150, 5, 0.3
    raw = sg.make_ma(scenario, conf)
    env = make_env(env_id)
    # A lower speed limit than the task's on both sides, so that the cost also fires
    # under random actions and non-zero costs are compared too.
    raw._velocity_threshold = env._env._velocity_threshold = threshold
    raw_obs, _ = raw.reset(seed=seed)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(2)
    total_cost = 0.0
    for _ in range(steps):
        actions = {a: rng.uniform(-1, 1, env.action_space(a).shape) for a in env.agents}
        raw_obs, raw_rewards, raw_costs, raw_term, raw_trunc, _ = raw.step(actions)
        obs, rewards, terminations, truncations, infos = env.step(actions)
        for a in env.possible_agents:
            assert np.array_equal(raw_obs[a], obs[a])
            assert rewards[a] == raw_rewards[a]
            assert infos[a]["cost"] == raw_costs[a] == infos[a]["costs"]["velocity"]
            assert (terminations[a], truncations[a]) == (raw_term[a], raw_trunc[a])
        total_cost += raw_costs["agent_0"]
    assert 0 < total_cost < steps


def test_the_written_out_catalog_lists_every_task_of_the_adapter():
    from testbed.envs import safety_gymnasium as adapter

    expected = {f"safety/{task}" for task in adapter.NAVIGATION_TASKS + adapter.VELOCITY_TASKS}
    expected |= {f"safety-ma/{s}-{c}" for s, c in adapter.MULTI_AGENT_TASKS}
    listed = {env_id for env_id in ENVS if env_id.startswith(("safety/", "safety-ma/"))}
    assert listed == expected
    for env_id in listed:
        fixed = ENVS[env_id].fixed
        bound = fixed.get("task_id") or f"{fixed.get('scenario')}-{fixed.get('agent_conf')}"
        assert env_id.endswith("/" + bound), env_id
