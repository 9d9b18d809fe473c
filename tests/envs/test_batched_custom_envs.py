"""The native batched envs (envs/*_batched.py) against `SyncVecEnv` over the single envs.

Each batched env must give exactly what `SyncVecEnv(lambda: <single env>, N)` gives for the
same root seed and actions, step by step over several episodes per copy (auto-resets
included): observations, rewards, costs, terminated, truncated, done, final observations and
action masks. Then seeding (same seed, same rollout; a copy does not depend on N). Speed is
measured by benchmarks/batched_env_speed.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces

import testbed  # noqa: F401  (before pettingzoo: the import-order trap of this stack)
from testbed.envs.cartpole_batched import cartpole_batched
from testbed.envs.commons_harvest import commons_harvest_v0
from testbed.envs.commons_harvest_batched import commons_harvest_batched
from testbed.envs.foraging import parallel_env as foraging_env
from testbed.envs.foraging_batched import foraging_batched
from testbed.envs.gymnasium_single import cartpole_v1
from testbed.envs.safe_navigation import parallel_env as safe_navigation_env
from testbed.envs.safe_navigation_batched import safe_navigation_batched
from testbed.rollout.vector import SyncVecEnv, VecObs, VecStep

ENVS = {
    "foraging": (foraging_env, foraging_batched),
    "safe_navigation": (safe_navigation_env, safe_navigation_batched),
    "commons_harvest": (commons_harvest_v0, commons_harvest_batched),
    "cartpole": (cartpole_v1, cartpole_batched),
}

# (env, parameters, max_steps, steps): every copy plays at least 3 episodes in `steps`.
SETTINGS = [
    ("foraging", {"max_cycles": 20}, None, 70),
    ("foraging", {"sight": 2, "grid_size": 6, "n_items": 3, "shared_reward": 0.5}, 12, 40),
    ("foraging", {"n_agents": 4, "grid_size": 5, "n_items": 2, "item_level": 1}, None, 80),
    (
        "foraging",
        {"n_agents": 4, "grid_size": 4, "n_items": 1, "sight": 1, "max_cycles": 18},
        None,
        60,
    ),
    ("safe_navigation", {"max_cycles": 25}, None, 80),
    ("safe_navigation", {"max_cycles": 30, "continuous_actions": True}, None, 95),
    (
        "safe_navigation",
        {"max_cycles": 40, "discrete_directions": 5, "max_speed": 0.6, "speed_limit": 0.3},
        15,
        50,
    ),
    (
        "safe_navigation",
        {
            "n_agents": 5,
            "n_hazards": 2,
            "max_cycles": 20,
            "continuous_actions": True,
            "robot_radius": 0.1,
            "hazard_weight": 0.1,
            "collision_weight": 0.7,
            "speed_weight": 0.3,
        },
        None,
        65,
    ),
    (
        "safe_navigation",
        {"n_agents": 1, "n_hazards": 0, "goal_radius": 0.9, "max_cycles": 20},
        None,
        60,
    ),
    ("commons_harvest", {"horizon": 20}, None, 65),
    ("commons_harvest", {"horizon": 30, "growth_noise": 0.5}, None, 95),
    ("commons_harvest", {"n_agents": 9, "catch_rate": 0.3, "growth_noise": 0.2}, 25, 80),
    ("commons_harvest", {"n_agents": 1, "harvest_levels": 2, "horizon": 15}, None, 50),
    ("cartpole", {}, None, 110),
    ("cartpole", {"max_episode_steps": 9, "length": 1.0, "force_mag": 6.0}, None, 40),
    ("cartpole", {"gravity": 12.0, "masspole": 0.3, "masscart": 0.7}, 7, 40),
]


def sample_actions(env: Any, rng: np.random.Generator, n: int, masks=None) -> dict:
    """Uniform random actions for n copies (legal ones where there is a mask)."""
    actions = {}
    for agent in env.possible_agents:
        space, mask = env.action_space(agent), (masks or {}).get(agent)
        if isinstance(space, spaces.Discrete):
            if mask is None:
                actions[agent] = rng.integers(space.start, space.start + space.n, n)
            else:
                scores = rng.random(mask.shape) + mask  # a uniform legal action per row
                actions[agent] = space.start + scores.argmax(axis=1)
        else:
            low, high = space.low, space.high
            actions[agent] = rng.uniform(low, high, (n, *space.shape)).astype(space.dtype)
    return actions


def assert_same(got: np.ndarray | None, want: np.ndarray | None, what: str) -> None:
    if want is None or got is None:
        assert got is None and want is None, what
        return
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want, err_msg=what)


def assert_same_obs(got: VecObs, want: VecObs, agents: list[str], what: str) -> None:
    assert set(got.observations) == set(agents) and set(got.action_masks) == set(agents)
    for a in agents:
        assert_same(got.observations[a], want.observations[a], f"{what} observation {a}")
        assert_same(got.action_masks[a], want.action_masks[a], f"{what} mask {a}")


def assert_same_step(got: VecStep, want: VecStep, agents: list[str], what: str) -> None:
    assert_same_obs(VecObs(got.observations, got.action_masks), want, agents, what)
    assert_same_obs(got.final, want.final, agents, f"{what} final")
    assert_same(got.done, want.done, f"{what} done")
    for name in ("rewards", "costs", "terminated", "truncated"):
        for a in agents:
            assert_same(getattr(got, name)[a], getattr(want, name)[a], f"{what} {name} {a}")


def compare(
    env: str, params: dict, max_steps: int | None, n: int, steps: int, seed: int
) -> tuple[np.ndarray, dict[str, int]]:
    """Step the batched env and SyncVecEnv side by side: (episodes per copy, event counts).

    If SyncVecEnv raises (an agent left and its copy's episode goes on), the batched env must
    raise the same error at the same step; the comparison stops there.
    """
    make_single, make_batched = ENVS[env]
    sync = SyncVecEnv(lambda: make_single(**params), n, max_steps=max_steps)
    batched = make_batched(n, **params, max_steps=max_steps)
    assert batched.num_envs == n and batched.possible_agents == sync.possible_agents
    agents = sync.possible_agents
    for a in agents:
        assert batched.observation_space(a) == sync.observation_space(a)
        assert batched.action_space(a) == sync.action_space(a)
    want = sync.reset(seed)
    assert_same_obs(batched.reset(seed), want, agents, "reset")
    rng = np.random.default_rng(seed)
    episodes = np.zeros(n, np.int64)
    events = dict.fromkeys(("reward", "cost", "terminated", "truncated", "raised"), 0)
    events["left"] = 0  # done copies where an agent had left the step before
    for t in range(steps):
        actions = sample_actions(sync, rng, n, want.action_masks)
        try:
            want = sync.step(actions)
        except ValueError as error:
            with pytest.raises(ValueError, match=re.escape(str(error))):
                batched.step(actions)
            events["raised"] += 1
            break
        assert_same_step(batched.step(actions), want, agents, f"{env} {params} step {t}")
        episodes += want.done
        events["reward"] += int(sum(np.count_nonzero(want.rewards[a]) for a in agents))
        events["cost"] += int(sum(np.count_nonzero(want.costs[a]) for a in agents))
        events["terminated"] += int(sum(want.terminated[a].sum() for a in agents))
        events["truncated"] += int(sum(want.truncated[a].sum() for a in agents))
        blank = [~want.final.observations[a].any(axis=1) & want.done for a in agents]
        events["left"] += int(np.logical_or.reduce(blank).sum())
    batched.close()
    sync.close()
    return episodes, events


@pytest.mark.parametrize(("env", "params", "max_steps", "steps"), SETTINGS)
def test_batched_equals_sync_vec_env(env, params, max_steps, steps):
    episodes, events = compare(env, params, max_steps, 4, steps, seed=11)
    assert events["raised"] == 0
    assert episodes.min() >= 3, episodes  # auto-resets exercised in every copy
    assert events["truncated"] > 0 or events["terminated"] > 0


@pytest.mark.parametrize(
    ("env", "params"),
    [
        ("foraging", {"max_cycles": 20}),  # 48 copies: observations read agent by agent
        ("safe_navigation", {"max_cycles": 20, "continuous_actions": True}),
        ("commons_harvest", {"horizon": 20, "growth_noise": 0.4}),
        ("cartpole", {"max_episode_steps": 15}),
    ],
)
def test_many_copies_equal_sync_vec_env(env, params):
    episodes, _ = compare(env, params, None, 48, 62, seed=2)
    assert episodes.min() >= 3


def test_settings_reach_terminations_rewards_and_costs():
    """The settings above exercise each path: items collected, goals reached, collapses."""
    seen = {
        (env, str(params)): compare(env, params, max_steps, 4, steps, seed=11)[1]
        for env, params, max_steps, steps in SETTINGS
    }
    foraging = [v for (env, _), v in seen.items() if env == "foraging"]
    assert sum(v["reward"] for v in foraging) > 0 and sum(v["terminated"] for v in foraging) > 0
    navigation = [v for (env, _), v in seen.items() if env == "safe_navigation"]
    assert all(v["cost"] > 0 for v in navigation)
    assert sum(v["terminated"] for v in navigation) > 0  # goals reached (one robot)
    commons = [v for (env, _), v in seen.items() if env == "commons_harvest"]
    assert sum(v["terminated"] for v in commons) > 0 and sum(v["cost"] for v in commons) > 0


def test_safe_navigation_robots_that_leave_as_sync_vec_env():
    """Robots reach their goals (large goal radius): the step after, a copy either ends (the
    robot that left is blank in `final`) or both implementations raise the same ValueError."""
    params = {"n_agents": 3, "n_hazards": 1, "goal_radius": 0.9, "max_cycles": 6}
    totals = dict.fromkeys(("raised", "left", "terminated"), 0)
    for seed in range(12):
        for max_steps in (None, 4):
            _, events = compare("safe_navigation", params, max_steps, 3, 40, seed)
            for key in totals:
                totals[key] += events[key]
    assert totals["raised"] > 0 and totals["left"] > 0 and totals["terminated"] > 0, totals
    # All robots at their goals at once from the first step: episodes end normally.
    episodes, events = compare("safe_navigation", {"goal_radius": 3.0}, None, 3, 6, seed=3)
    assert events["raised"] == 0 and (episodes == 6).all()


def test_commons_growth_shocks_drawn_in_blocks(monkeypatch):
    """Episodes longer than a block of pre-drawn shocks draw the next block when they reach
    it (blocks of 7 here, 128 in use): still the single env's draws."""
    monkeypatch.setattr("testbed.envs.commons_harvest_batched.SHOCK_BLOCK", 7)
    params = {"horizon": 30, "growth_noise": 0.3, "n_agents": 3}
    episodes, _ = compare("commons_harvest", params, None, 3, 95, seed=4)
    assert episodes.min() >= 3


@pytest.mark.parametrize(
    "params",
    [{}, {"grid_size": 5, "n_items": 4, "item_level": 3, "n_agents": 4}, {"grid_size": 3}],
)
def test_foraging_placement_draw_for_draw(params):
    """The batched reset places items and agents as the single env does, seed by seed (dense
    grids need several packing tries)."""
    single, batched = foraging_env(**params), foraging_batched(1, **params)
    for seed in range(300):
        single.reset(seed=seed)
        agents, items = batched._place(np.random.default_rng(seed))
        assert agents == single._agent_pos.tolist() and items == single._item_pos.tolist()


@pytest.mark.parametrize(
    "params", [{}, {"n_agents": 5, "robot_radius": 0.1, "n_hazards": 4}, {"n_agents": 1}]
)
def test_safe_navigation_placement_draw_for_draw(params):
    """The batched reset draws hazards, starts and goals as the single env does (a crowded
    arena rejects many candidates, and for some seeds cannot be placed: both raise)."""
    single, batched = safe_navigation_env(**params), safe_navigation_batched(1, **params)
    for seed in range(100):
        try:
            single.reset(seed=seed)
        except ValueError as error:
            with pytest.raises(ValueError, match=re.escape(str(error))):
                batched._place(np.random.default_rng(seed))
            continue
        hazards, starts, goals = batched._place(np.random.default_rng(seed))
        assert np.array_equal(hazards, single._hazards)
        assert np.array_equal(starts, single._pos) and np.array_equal(goals, single._goal)


# ---------------------------------------------------------------------------------------------
# Seeding


def rollout(make: Callable[[], Any], seed: int, steps: int, n: int, rows: int) -> list:
    """Everything the first `rows` copies return, with actions drawn for `n` copies."""
    env = make()
    rng = np.random.default_rng(seed + 1)
    first = env.reset(seed)
    out = [{a: first.observations[a][:rows].copy() for a in env.possible_agents}]
    for _ in range(steps):
        actions = sample_actions(env, rng, n)
        step = env.step({a: actions[a][: env.num_envs] for a in actions})
        for part in (
            step.observations,
            step.final.observations,
            step.rewards,
            step.costs,
            step.terminated,
            step.truncated,
        ):
            out.append({a: part[a][:rows].copy() for a in env.possible_agents})
        out.append({"done": step.done[:rows].copy()})
    env.close()
    return out


def same_rollouts(one: list, other: list) -> bool:
    return all(
        a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        for a, b in zip(one, other, strict=True)
    )


@pytest.mark.parametrize(
    ("env", "params"),
    [
        ("foraging", {"max_cycles": 15, "sight": 3}),
        ("safe_navigation", {"max_cycles": 15, "continuous_actions": True}),
        ("commons_harvest", {"horizon": 15, "growth_noise": 0.3}),
        ("cartpole", {"max_episode_steps": 12}),
    ],
)
def test_seeding(env, params):
    batched = ENVS[env][1]
    three = rollout(lambda: batched(3, **params), 5, 40, 6, 3)
    assert same_rollouts(three, rollout(lambda: batched(3, **params), 5, 40, 6, 3))
    assert not same_rollouts(three, rollout(lambda: batched(3, **params), 6, 40, 6, 3))
    # Copies 0-2 of a 6-copy env, given the same actions, are copies 0-2 of a 3-copy env.
    assert same_rollouts(three, rollout(lambda: batched(6, **params), 5, 40, 6, 3))
    # A second reset starts the episodes again.
    env_ = batched(3, **params)
    first = env_.reset(5).observations
    env_.step(sample_actions(env_, np.random.default_rng(0), 3))
    again = env_.reset(5).observations
    assert all(np.array_equal(first[a], again[a]) for a in env_.possible_agents)


def test_factories_check_their_parameters():
    for _, batched in ENVS.values():
        with pytest.raises(ValueError, match="num_envs"):
            batched(0)
    with pytest.raises(ValueError, match="item_level"):
        foraging_batched(2, item_level=5)
    with pytest.raises(ValueError, match="discrete_directions"):
        safe_navigation_batched(2, discrete_directions=4)
    with pytest.raises(ValueError, match="growth_noise"):
        commons_harvest_batched(2, growth_noise=-1.0)
    env = commons_harvest_batched(2)
    env.reset(0)
    with pytest.raises(ValueError, match="harvest levels"):
        env.step({a: np.array([0, 4]) for a in env.possible_agents})
    cartpole = cartpole_batched(2)
    cartpole.reset(0)
    for bad in (np.array([0, 2]), np.array([1.0, 0.0]), np.array([True, False]), np.array([1])):
        with pytest.raises(ValueError, match="CartPole actions must be 0 or 1"):
            cartpole.step({"agent_0": bad})
    with pytest.raises(ValueError, match="length must be > 0"):
        cartpole_batched(2, length=0.0)
