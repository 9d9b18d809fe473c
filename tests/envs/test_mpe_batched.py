"""testbed.envs.mpe_batched: the batched MPE equals PettingZoo's step for step, draws its initial
states like PettingZoo's `reset_world`, seeds each copy's episodes alone, and is a `VecEnv`."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from scipy import stats

from testbed.envs import mpe_batched, pettingzoo_std
from testbed.envs.mpe_batched import pettingzoo_state, set_pettingzoo_state
from testbed.envs.mpe_batched.rng import CopyDraws, reference_draws
from testbed.registry import make_env
from testbed.rollout.vector import SyncVecEnv, copy_seed

TOL = 1e-6
CASES = [
    ("simple_spread_v3", {"N": 3, "local_ratio": 0.25}),
    ("simple_spread_v3", {"N": 5, "local_ratio": 0.25, "max_cycles": 40}),
    ("simple_tag_v3", {"num_good": 2, "num_adversaries": 4, "num_obstacles": 1}),
    ("simple_tag_v3", {}),
    ("simple_adversary_v3", {"N": 3}),
]
CASE_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in p.items())}" for name, p in CASES]


def pettingzoo(name: str, **params):
    return make_env(f"mpe/{name}", **params)


def batched(name: str, num_envs: int, **params):
    return getattr(mpe_batched, name)(num_envs, **params)


def random_actions(env, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Uniform over each agent's action space, for n copies (float32 Box actions)."""
    if env.continuous_actions:
        return {a: rng.random((n, 5), dtype=np.float32) for a in env.possible_agents}
    return {a: rng.integers(0, 5, n) for a in env.possible_agents}


def crowd(env, rng: np.random.Generator) -> None:
    """Squeeze a PettingZoo env's entities into a small box and give the agents speed, so
    contacts, catches and speed limits happen in most steps."""
    state = pettingzoo_state(env)
    state["agent_pos"] = state["agent_pos"] * 0.15
    state["landmark_pos"] = state["landmark_pos"] * 0.15
    state["agent_vel"] = rng.uniform(-1.5, 1.5, state["agent_vel"].shape)
    set_pettingzoo_state(env, state)


def assert_close(actual, expected, what: str) -> None:
    np.testing.assert_allclose(
        np.asarray(actual), np.asarray(expected), rtol=0, atol=TOL, err_msg=what
    )


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_steps_equal_pettingzoo(name, params, continuous):
    """Copy k of 5 runs PettingZoo's episodes (state copied in at each reset): observations,
    rewards, terminations and truncations agree at every step, through the auto-reset."""
    n, k, episodes = 5, 3, 4
    rng = np.random.default_rng(11)
    reference = pettingzoo(name, continuous_actions=continuous, **params)
    env = batched(name, n, continuous_actions=continuous, **params)
    env.reset(seed=5)  # the other copies run their own episodes, ending at other steps
    for copy in range(n):
        if copy != k:
            env.set_state(copy, {"steps": 7 * copy % env.limit})
    seen_rewards = set()
    for episode in range(episodes):
        observations, _ = reference.reset(seed=100 + episode)
        if episode % 2:
            crowd(reference, rng)
            observations = {a: reference.unwrapped.observe(a) for a in reference.agents}
        env.set_state(k, pettingzoo_state(reference))
        mine = env.observe().observations
        for agent in reference.possible_agents:
            assert_close(mine[agent][k], observations[agent], f"reset obs {agent}")
        while reference.agents:
            actions = random_actions(env, rng, n)
            observations, rewards, terms, truncs, infos = reference.step(
                {a: actions[a][k] for a in reference.agents}
            )
            out = env.step(actions)
            assert out.done[k] == (not reference.agents)
            for agent in reference.possible_agents:
                where = f"episode {episode} step {env.steps[k]} {agent}"
                assert_close(out.next_observation(agent)[k], observations[agent], where)
                assert_close(out.rewards[agent][k], rewards[agent], where)
                assert out.terminated[agent][k] == terms[agent]
                assert out.truncated[agent][k] == truncs[agent]
                assert out.costs[agent][k] == infos[agent]["cost"] == 0.0
                seen_rewards.add(round(float(rewards[agent]), 6))
        assert env.steps[k] == 0  # copy k was reset in the step that truncated it
    assert len(seen_rewards) > 10  # rewards vary (not a degenerate rollout)


def test_equivalence_exercises_contacts_catches_and_speed_limits():
    """Crowded starts (as in the odd episodes above) hit the special cases: agents overlap
    (collision penalties), adversaries catch, contact forces push agents to their max speed."""
    rng = np.random.default_rng(0)
    reference = pettingzoo("simple_spread_v3", N=5, local_ratio=0.25)
    reference.reset(seed=1)
    crowd(reference, rng)
    env = batched("simple_spread_v3", 1, N=5, local_ratio=0.25)
    env.reset(seed=0)
    env.set_state(0, pettingzoo_state(reference))
    collisions = 0
    while reference.agents:
        actions = random_actions(env, rng, 1)
        _, rewards, _, _, _ = reference.step({a: actions[a][0] for a in reference.agents})
        env.step(actions)
        collisions += len(set(rewards.values())) > 1  # agents differ in collision penalties
    assert collisions > 0
    reference = pettingzoo("simple_tag_v3", num_good=2, num_adversaries=4, num_obstacles=1)
    reference.reset(seed=1)
    crowd(reference, rng)
    env = batched("simple_tag_v3", 2, num_good=2, num_adversaries=4, num_obstacles=1)
    env.reset(seed=0)
    env.set_state(0, pettingzoo_state(reference))
    caught = limited = 0
    while reference.agents:
        actions = random_actions(env, rng, 2)
        _, rewards, _, _, _ = reference.step({a: actions[a][0] for a in reference.agents})
        out = env.step(actions)
        caught += rewards["adversary_0"] >= 10
        speeds = np.linalg.norm(pettingzoo_state(reference)["agent_vel"], axis=1)
        limited += np.isclose(speeds, env.max_speed).sum()
        assert out.rewards["adversary_0"][0] == rewards["adversary_0"]
    assert caught > 0 and limited > 0


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("simple_spread_v3", {"N": 4}),
        ("simple_spread_v3", {"N": 2, "max_agents": 4}),
        ("simple_tag_v3", {}),
        ("simple_adversary_v3", {"N": 3}),
    ],
)
def test_matches_sync_vec_env_of_pettingzoo(name, params):
    """Initial states are drawn in `reset_world`'s order from `default_rng(copy_seed(...))`,
    so the batched env equals SyncVecEnv over PettingZoo envs: same seeds, same VecSteps."""
    n, rng = 3, np.random.default_rng(2)
    sync = SyncVecEnv(lambda: pettingzoo(name, max_cycles=6, **params), n, max_steps=4)
    env = batched(name, n, max_cycles=6, max_steps=4, **params)
    first, mine = sync.reset(seed=9), env.reset(seed=9)
    for agent in env.possible_agents:
        assert_close(mine.observations[agent], first.observations[agent], agent)
        assert mine.action_masks[agent] is None
    for _ in range(10):
        actions = random_actions(env, rng, n)
        expected, out = sync.step(actions), env.step(actions)
        np.testing.assert_array_equal(out.done, expected.done)
        for agent in env.possible_agents:
            assert_close(out.observations[agent], expected.observations[agent], agent)
            assert_close(out.rewards[agent], expected.rewards[agent], agent)
            assert_close(out.costs[agent], expected.costs[agent], agent)
            np.testing.assert_array_equal(out.terminated[agent], expected.terminated[agent])
            np.testing.assert_array_equal(out.truncated[agent], expected.truncated[agent])
            done = expected.done
            assert_close(
                out.final.observations[agent][done],
                expected.final.observations[agent][done],
                agent,
            )


@pytest.mark.parametrize(
    ("name", "params", "range_"),
    [
        ("simple_spread_v3", {"N": 3}, 1.0),
        ("simple_tag_v3", {"num_good": 2, "num_adversaries": 4, "num_obstacles": 1}, 0.9),
        ("simple_adversary_v3", {"N": 3}, 1.0),
    ],
)
def test_initial_states_are_distributed_like_pettingzoo(name, params, range_):
    """Over 2000 resets: same counts, support, mean and spread (KS) as PettingZoo's resets."""
    n = 2000
    env = batched(name, n, **params)
    env.reset(seed=123)
    reference = pettingzoo(name, **params)
    theirs = []
    for seed in range(n):
        reference.reset(seed=10_000 + seed)
        theirs.append(pettingzoo_state(reference))
    ours = [env.get_state(c) for c in range(n)]
    raw = reference.unwrapped
    assert env.num_agents == len(raw.world.agents) and env.num_landmarks == len(raw.world.landmarks)
    for key, bound in (("agent_pos", 1.0), ("landmark_pos", range_)):
        mine = np.stack([s[key] for s in ours])
        other = np.stack([s[key] for s in theirs])
        assert mine.shape == other.shape
        assert np.abs(mine).max() <= bound and np.abs(mine).max() > 0.99 * bound
        np.testing.assert_allclose(mine.mean(axis=0), other.mean(axis=0), atol=0.08)
        np.testing.assert_allclose(mine.std(axis=0), bound / np.sqrt(3), atol=0.04)
        for column in range(mine.shape[1]):
            for axis in range(2):
                p = stats.ks_2samp(mine[:, column, axis], other[:, column, axis]).pvalue
                assert p > 1e-3, (key, column, axis, p)
    for s in ours:
        assert s["steps"] == 0 and not s["agent_vel"].any() and not s["agent_comm"].any()
    if name == "simple_adversary_v3":
        goals = np.bincount([s["goal"] for s in ours], minlength=params["N"])
        assert stats.chisquare(goals).pvalue > 1e-3


@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_initial_states_equal_pettingzoo_resets_with_the_copy_seeds(name, params):
    """Episode e of copy c starts where PettingZoo's reset(seed=copy_seed(seed, c, e)) does,
    whether the copies are drawn one by one (< 8 resets) or all at once."""
    reference = pettingzoo(name, **params)
    for n in (3, 9):
        env = batched(name, n, **{**params, "max_cycles": 2})
        env.reset(seed=77)
        for episode in range(2):
            for copy in range(n):
                reference.reset(seed=copy_seed(77, copy, episode))
                expected, actual = pettingzoo_state(reference), env.get_state(copy)
                for key, value in expected.items():
                    np.testing.assert_array_equal(actual[key], value, err_msg=key)
            for _ in range(2):
                env.step(random_actions(env, np.random.default_rng(0), n))


def rollout(env, seed: int, steps: int = 60) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = env.reset(seed=seed)
    trace = [np.concatenate([out.observations[a] for a in env.possible_agents], axis=1)]
    for _ in range(steps):
        step = env.step(random_actions(env, rng, env.num_envs))
        trace.append(np.concatenate([step.observations[a] for a in env.possible_agents], 1))
        trace.append(np.stack([step.rewards[a] for a in env.possible_agents], 1))
    return trace


@pytest.mark.parametrize("name", ["simple_spread_v3", "simple_tag_v3", "simple_adversary_v3"])
def test_seeding(name):
    """Same seed, same rollout; another seed, another; copy c's episodes depend only on
    (seed, c, e), not on the number of copies (4 copies: one Generator each; 8: vectorised)."""
    first, again = rollout(batched(name, 4), 3), rollout(batched(name, 4), 3)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = rollout(batched(name, 4), 4)
    assert not np.array_equal(first[0], other[0])
    # Copy 3 of 4 and of 8 see different actions, so compare initial states over episodes.
    small, large = batched(name, 4, max_cycles=3), batched(name, 8, max_cycles=3)
    small.reset(seed=3), large.reset(seed=3)
    for _ in range(3):
        for key, value in small.get_state(3).items():
            np.testing.assert_array_equal(value, large.get_state(3)[key], err_msg=key)
        for env in (small, large):
            for _ in range(3):
                env.step(random_actions(env, np.random.default_rng(env.num_envs), env.num_envs))
    assert small.episodes[3] == large.episodes[3] == 4


@pytest.mark.parametrize("choices", [None, 3, 4])
def test_vectorised_draws_equal_one_generator_per_copy(choices):
    draws = CopyDraws(300)
    lows = np.r_[np.full(6, -1.0), np.full(4, -0.9)]
    for seed in (0, 1, 2**33 + 5, 2**130 + 1):
        draws.set_root(seed)
        copies = np.arange(0, 300, 3)
        episodes = np.random.default_rng(seed % 97).integers(0, 1000, len(copies))
        seeds = [copy_seed(seed, int(c), int(e)) for c, e in zip(copies, episodes, strict=True)]
        np.testing.assert_array_equal(draws.seeds(copies, episodes), seeds)
        chosen, values = draws.draw(copies, episodes, lows, -lows, choices)
        expected_chosen, expected = reference_draws(seed, copies, episodes, lows, -lows, choices)
        np.testing.assert_array_equal(values, expected)
        if choices is None:
            assert chosen is None and expected_chosen is None
        else:
            np.testing.assert_array_equal(chosen, expected_chosen)


@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_spaces_and_agents_equal_pettingzoo(name, params, continuous):
    reference = pettingzoo(name, continuous_actions=continuous, **params)
    env = batched(name, 2, continuous_actions=continuous, **params)
    assert env.possible_agents == reference.possible_agents
    for agent in reference.possible_agents:
        assert env.observation_space(agent) == reference.observation_space(agent)
        assert env.action_space(agent) == reference.action_space(agent)
    out = env.reset(seed=0)
    for agent in env.possible_agents:
        assert out.observations[agent].shape == (2, *env.observation_space(agent).shape)
        assert out.observations[agent].dtype == np.float32
        assert out.observations[agent].flags.c_contiguous


def test_vec_step_contract_and_max_steps():
    env = batched("simple_spread_v3", 4, max_cycles=25, max_steps=3)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for t in range(1, 7):
        out = env.step(random_actions(env, rng, 4))
        assert out.done.all() == (t % 3 == 0) and out.done.any() == (t % 3 == 0)
        for agent in env.possible_agents:
            assert out.rewards[agent].shape == (4,) and out.costs[agent].dtype == np.float64
            assert not out.costs[agent].any() and not out.terminated[agent].any()
            np.testing.assert_array_equal(out.truncated[agent], out.done)
            assert out.action_masks[agent] is None
    # Copies that are not in lockstep end on their own.
    state = env.get_state(1)
    env.set_state(1, {**state, "steps": 2})
    out = env.step(random_actions(env, rng, 4))
    np.testing.assert_array_equal(out.done, [False, True, False, False])
    assert env.steps.tolist() == [1, 0, 1, 1]


def test_state_round_trip_and_bad_input():
    env = batched("simple_adversary_v3", 3, N=3)
    env.reset(seed=0)
    state = env.get_state(0)
    state["agent_pos"] += 0.5
    state["goal"] = 2
    env.set_state(2, state)
    for key, value in env.get_state(2).items():
        np.testing.assert_array_equal(value, state[key])
    np.testing.assert_array_equal(env.pos[2], state["agent_pos"])
    with pytest.raises(ValueError, match="shape"):
        env.set_state(0, {"agent_pos": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="goal"):
        env.set_state(0, {"goal": 3})
    with pytest.raises(ValueError, match="0..4"):
        env.step({a: np.full(3, 5) for a in env.possible_agents})
    with pytest.raises(KeyError):
        env.step({"adversary_0": np.zeros(3, int)})
    with pytest.raises(ValueError, match="shape"):
        env.step({a: np.zeros(2, int) for a in env.possible_agents})
    with pytest.raises(ValueError):
        mpe_batched.simple_spread_v3(2, local_ratio=1.5)
    with pytest.raises(ValueError):
        mpe_batched.simple_spread_v3(0)


def test_continuous_actions_are_clipped_like_pettingzoo():
    """Out-of-range Box actions are clipped to [0, 1] (PettingZoo's ClipOutOfBoundsWrapper)."""
    reference = pettingzoo("simple_spread_v3", continuous_actions=True)
    reference.reset(seed=0)
    env = batched("simple_spread_v3", 1, continuous_actions=True)
    env.reset(seed=0)
    env.set_state(0, pettingzoo_state(reference))
    rng = np.random.default_rng(1)
    actions = {a: rng.uniform(-1, 2, (1, 5)) for a in env.possible_agents}  # float64
    observations, rewards, *_ = reference.step({a: actions[a][0] for a in env.possible_agents})
    out = env.step(actions)
    for agent in env.possible_agents:
        assert_close(out.observations[agent][0], observations[agent], agent)
        assert_close(out.rewards[agent][0], rewards[agent], agent)


@pytest.mark.parametrize("name", ["simple_spread_v3", "simple_tag_v3", "simple_adversary_v3"])
def test_factories_take_the_wrappers_parameters(name):
    """num_envs, then the parameters (names, defaults, annotations) of the PettingZoo wrapper,
    then max_steps; rendering is refused."""
    wrapper = inspect.signature(getattr(pettingzoo_std, name)).parameters
    factory = inspect.signature(getattr(mpe_batched, name)).parameters
    assert list(factory) == ["num_envs", *wrapper, "max_steps"]
    for key, parameter in wrapper.items():
        assert factory[key].default == parameter.default, key
        assert factory[key].annotation == parameter.annotation, key
    with pytest.raises(ValueError, match="render"):
        getattr(mpe_batched, name)(2, render_mode="rgb_array")
