"""Named costs added to envs that report none (testbed.envs.constraints)."""

from __future__ import annotations

import gymnasium  # noqa: F401  (before pettingzoo; docs/STACK.md, trap 4)
import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.test import parallel_api_test

from testbed.envs.constraints import SpeedLimitCost, add_costs
from testbed.errors import BadInput
from testbed.registry import make_env

NOOP, PUSH_RIGHT = 0, 2  # MPE discrete actions
COSTS = {
    "collision": {"type": "collision", "weight": 2.0},
    "speed": {"type": "speed_limit", "limit": 0.5},
}


def spread(costs=COSTS, **params):
    return add_costs(make_env("mpe/simple_spread_v3", **params), costs)


def apart(env) -> None:
    """Put the agents far from each other and at rest (positions within the MPE arena)."""
    for body, x in zip(env.unwrapped.world.agents, (-0.8, 0.0, 0.8), strict=True):
        body.state.p_pos = np.array([x, 0.5])
        body.state.p_vel = np.zeros(2)


def test_parallel_api_on_wrapped_mpe():
    parallel_api_test(spread(), num_cycles=50)


def test_zero_when_still_and_apart():
    env = spread()
    _, infos = env.reset(seed=1)
    assert all(info["costs"] == {"collision": 0.0, "speed": 0.0} for info in infos.values())
    apart(env)
    for _ in range(5):
        *_, infos = env.step({a: NOOP for a in env.agents})
        for info in infos.values():
            assert info["costs"] == {"collision": 0.0, "speed": 0.0}
            assert info["cost"] == 0.0


def test_collision_fires_for_overlapping_agents_only():
    env = spread()
    env.reset(seed=1)
    apart(env)
    first, second, _ = env.unwrapped.world.agents
    second.state.p_pos = first.state.p_pos + 0.01  # on top of each other (sizes 0.15 each)
    *_, infos = env.step({a: NOOP for a in env.agents})
    assert infos["agent_0"]["costs"]["collision"] == 2.0  # weighted
    assert infos["agent_1"]["costs"]["collision"] == 2.0
    assert infos["agent_2"]["costs"]["collision"] == 0.0
    assert infos["agent_0"]["cost"] == 2.0 + infos["agent_0"]["costs"]["speed"]


def test_speed_fires_only_for_the_fast_agent():
    env = spread(
        {
            "speed": {"type": "speed_limit", "limit": 0.5},
            "excess": {"type": "speed_limit", "limit": 0.5, "mode": "excess"},
            "from_obs": {"type": "speed_limit", "limit": 0.5, "observation_indices": [0, 1]},
        }
    )
    env.reset(seed=1)
    apart(env)
    speeds = []
    for _ in range(4):
        actions = {a: NOOP for a in env.agents} | {"agent_0": PUSH_RIGHT}
        observations, *_, infos = env.step(actions)
        speed = float(np.linalg.norm(env.unwrapped.world.agents[0].state.p_vel))
        speeds.append(speed)
        fast = infos["agent_0"]["costs"]
        assert fast["speed"] == float(speed > 0.5) == fast["from_obs"]
        assert fast["excess"] == pytest.approx(max(speed - 0.5, 0.0))
        assert np.allclose(observations["agent_0"][:2], [speed, 0.0])  # MPE: own velocity first
        assert infos["agent_1"]["costs"] == {"speed": 0.0, "excess": 0.0, "from_obs": 0.0}
    assert speeds[0] <= 0.5 < speeds[-1]  # it sped up past the limit


class Thermostat(ParallelEnv):
    """Two agents; each step reports `temperature` = the step count and its own cost 0.5."""

    metadata = {"name": "thermostat_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self):
        self.possible_agents = ["a", "b"]
        self._observation_space = spaces.Box(-1.0, 1.0, (1,))
        self._action_space = spaces.Discrete(2)

    def observation_space(self, agent):
        return self._observation_space

    def action_space(self, agent):
        return self._action_space

    def reset(self, seed=None, options=None):
        self.agents, self.t = list(self.possible_agents), 0
        return {a: np.zeros(1, np.float32) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        done = self.t >= 3
        infos = {
            a: {"temperature": self.t, "cost": 0.5, "costs": {"own": 0.5}} for a in self.agents
        }
        observations = {a: np.zeros(1, np.float32) for a in self.agents}
        flags = {a: done for a in self.agents}
        out = observations, dict.fromkeys(self.agents, 0.0), flags, dict(flags), infos
        if done:
            self.agents = []
        return out


def test_info_key_costs_add_to_the_env_own_cost():
    env = add_costs(
        Thermostat(),
        {
            "heat": {"type": "info_key", "key": "temperature", "weight": 0.1},
            "hot": {"type": "info_key", "key": "temperature", "threshold": 1.5},
        },
    )
    parallel_api_test(env, num_cycles=5)
    env.reset(seed=0)
    for t in (1, 2, 3):
        *_, infos = env.step({"a": 0, "b": 0})
        costs = infos["a"]["costs"]
        assert costs == {"own": 0.5, "heat": pytest.approx(0.1 * t), "hot": float(t > 1.5)}
        assert infos["a"]["cost"] == pytest.approx(0.5 + 0.1 * t + float(t > 1.5))


def test_missing_info_key_uses_default_or_fails_clearly():
    env = add_costs(Thermostat(), {"p": {"type": "info_key", "key": "pressure", "default": 0.0}})
    env.reset()
    assert env.step({"a": 0, "b": 0})[4]["a"]["costs"]["p"] == 0.0
    env = add_costs(Thermostat(), {"p": {"type": "info_key", "key": "pressure"}})
    env.reset()
    with pytest.raises(BadInput, match="no info key 'pressure'"):
        env.step({"a": 0, "b": 0})


@pytest.mark.parametrize(
    "costs, message",
    [
        ({"c": {"type": "colision"}}, r"cost 'c' field 'type': 'colision' is not one of"),
        ({"c": {"type": "speed_limit"}}, r"cost 'c' field 'limit': Field required"),
        ({"c": {"type": "speed_limit", "limit": -1}}, r"cost 'c' field 'limit'.*greater than"),
        ({"c": {"type": "collision", "wieght": 1}}, r"cost 'c' field 'wieght'"),
        ({"c": {"type": "info_key"}}, r"cost 'c' field 'key'"),
        ({"c": [1, 2]}, r"cost 'c' must be a mapping"),
        ({}, r"non-empty mapping"),
    ],
)
def test_bad_configs_name_the_cost_and_field(costs, message):
    with pytest.raises(BadInput, match=message) as error:
        add_costs(make_env("mpe/simple_spread_v3"), costs, where="s.yaml:4: env.costs")
    assert error.value.where.startswith("s.yaml:4: env.costs")


def test_world_costs_need_a_world_and_names_must_not_clash():
    with pytest.raises(BadInput, match="reads the agents' positions, which Thermostat does not"):
        add_costs(Thermostat(), {"speed": {"type": "speed_limit", "limit": 1.0}})
    with_obs = add_costs(
        Thermostat(), {"speed": {"type": "speed_limit", "limit": 1.0, "observation_indices": [0]}}
    )
    assert isinstance(with_obs.costs["speed"], SpeedLimitCost)
    clash = add_costs(Thermostat(), {"own": {"type": "info_key", "key": "temperature"}})
    clash.reset()
    with pytest.raises(BadInput, match="already costs of this env"):
        clash.step({"a": 0, "b": 0})
