"""Named costs on turn-based (AEC) envs and on every env that exposes positions
(testbed.envs.constraints, testbed.envs.positions)."""

from __future__ import annotations

import gymnasium  # noqa: F401  (before pettingzoo; STACK.md, trap 4)
import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test

from testbed._stack import kaz_name, mpe_module
from testbed.envs.constraints import add_costs
from testbed.envs.positions import bodies
from testbed.registry import make_env
from testbed.registry.catalog_more import missing_here

# PettingZoo 1.25+ has no pursuit_v4 / waterworld_v4: those run on the legacy stack only (a
# clear error on the modern one, tested in tests/envs/test_registered_envs.py)
LEGACY_ONLY = pytest.mark.skipif(
    "sisl/pursuit_v4" in missing_here(), reason="pursuit_v4/waterworld_v4: legacy stack only"
)

COSTS = {
    "collision": {"type": "collision"},
    "speed": {"type": "speed_limit", "limit": 0.5},
    "away": {"type": "out_of_bounds", "bound": 1e6},
}


@pytest.mark.parametrize(
    "env_id",
    [pytest.param("sisl/pursuit_v4", marks=LEGACY_ONLY),
     pytest.param("sisl/waterworld_v4", marks=LEGACY_ONLY), "sisl/multiwalker_v9",
     "butterfly/pistonball_v6", f"butterfly/{kaz_name()}", "testbed/foraging_v0"],
)  # fmt: skip
def test_position_costs_on_envs_that_expose_positions(env_id):
    env = add_costs(make_env(env_id), COSTS)
    parallel_api_test(env, num_cycles=5)
    env.reset(seed=0)
    found = bodies(env)
    assert set(found.positions) >= set(env.possible_agents)
    for _ in range(5):
        actions = {a: env.action_space(a).sample() for a in env.agents}
        *_, infos = env.step(actions)
        for info in infos.values():
            assert set(info["costs"]) >= set(COSTS) and info["costs"]["away"] == 0.0
            assert info["cost"] == pytest.approx(sum(info["costs"].values()))


@LEGACY_ONLY
def test_pursuers_on_one_cell_collide_and_moving_counts_as_speed():
    env = add_costs(make_env("sisl/pursuit_v4", n_pursuers=3), COSTS)
    env.reset(seed=0)
    layer = env.unwrapped.env.pursuer_layer
    for i, x in enumerate((2, 2, 9)):
        layer.set_position(i, x, 5)
    stay = 4  # pursuit's "stay" action
    env.step({a: stay for a in env.agents})  # the teleport above counts as this step's move
    *_, infos = env.step({a: stay for a in env.agents})
    assert [infos[a]["costs"]["collision"] for a in env.agents] == [1.0, 1.0, 0.0]
    assert all(infos[a]["costs"]["speed"] == 0.0 for a in env.agents)  # nobody moved
    before = bodies(env).positions["pursuer_2"]
    *_, infos = env.step({a: 1 for a in env.agents})  # move right: one cell
    moved = np.linalg.norm(bodies(env).positions["pursuer_2"] - before)
    assert infos["pursuer_2"]["costs"]["speed"] == float(moved > 0.5)


@LEGACY_ONLY
def test_waterworld_speed_reads_the_body_velocity():
    env = add_costs(
        make_env("sisl/waterworld_v4"),
        {"fast": {"type": "speed_limit", "limit": 1.0, "mode": "excess"}},
    )
    env.reset(seed=1)
    for _ in range(3):
        *_, infos = env.step({a: np.ones(2, np.float32) for a in env.agents})
    for i, agent in enumerate(env.possible_agents):
        speed = float(np.linalg.norm(env.unwrapped.env.pursuers[i].body.velocity))
        assert speed > 1.0
        assert infos[agent]["costs"]["fast"] == pytest.approx(speed - 1.0)


def test_costs_on_a_turn_based_env():
    """AEC: MPE simple_spread's AEC form gets collision costs, passes PettingZoo's api test,
    and an overlapping pair is charged at the next turn of each."""
    simple_spread_v3 = mpe_module("simple_spread_v3")

    api_test(add_costs(simple_spread_v3.env(), COSTS), num_cycles=20)
    env = add_costs(simple_spread_v3.env(), {"collision": {"type": "collision", "weight": 2.0}})
    env.reset(seed=1)
    first, second, third = env.unwrapped.world.agents
    for body, x in zip((first, second, third), (-0.8, 0.0, 0.8), strict=True):
        body.state.p_pos, body.state.p_vel = np.array([x, 0.5]), np.zeros(2)
    second.state.p_pos = first.state.p_pos + 0.01
    seen = {}
    for agent in env.agent_iter(max_iter=4):
        *_, info = env.last()
        seen.setdefault(agent, []).append(info["costs"]["collision"])
        env.step(0)
    assert seen["agent_0"] == [0.0, 2.0]  # 0 at reset; charged once, at its next turn
    assert seen["agent_1"] == [2.0] and seen["agent_2"] == [0.0]
    assert env.infos["agent_0"]["cost"] == 2.0  # not added twice over steps


def test_info_key_costs_on_a_card_game():
    env = add_costs(
        make_env("classic/leduc_holdem_v4"),
        {"c": {"type": "info_key", "key": "cost", "default": 0.0}},
    )
    api_test(env, num_cycles=10)


def test_an_env_can_expose_its_own_positions():
    env = make_env("testbed/foraging_v0")
    own = env.unwrapped  # as if the env defined these methods itself
    own.agent_positions = lambda: {a: np.zeros(2) for a in own.possible_agents}
    own.agent_radii = lambda: dict.fromkeys(own.possible_agents, 0.1)
    env = add_costs(env, {"collision": {"type": "collision"}})
    env.reset(seed=0)
    *_, infos = env.step({a: 0 for a in env.agents})
    assert all(info["costs"]["collision"] == 1.0 for info in infos.values())  # all at 0, 0
