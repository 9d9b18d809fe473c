"""Batched (vectorized) methods of the off-policy learners: dqn (and its options), c51,
q_learning, ddpg, td3, sac.

(a) `explore_batch` on N rows is N calls of the greedy / deterministic policy when there is no
exploration randomness, with masks and schedules (epsilon, warm-up) applied per row;
(b) `observe_batch` of N copies fills replay exactly as feeding each copy's stream on its own
(n-step rows never mix copies), and `update()` runs the gradient steps due at all N env steps;
(c) N copies driven through `SyncVecEnv` learn tiny tasks clearly better than chance, the
same seed repeating exactly; checkpoints stay weights-only loadable and old ones still load.
"""

from __future__ import annotations

import functools
import io
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from testbed.agents.common.nets import deterministic_torch
from testbed.agents.common.replay import ReplayBuffer
from testbed.agents.common.spaces import to_vector, to_vectors
from testbed.registry import make_agent
from testbed.rollout.vector import SyncVecEnv, TransitionBatch

N = 8
FAST_DQN = dict(hidden=(32,), learning_rate=1e-3, buffer_size=4_000, batch_size=32)
FAST_DQN |= {"learning_starts": 100, "train_freq": 2, "target_update_interval": 48}
FAST_DQN |= {"epsilon_decay_steps": 600}
FAST_C51 = {**FAST_DQN, "n_atoms": 25, "v_min": -6.0, "v_max": 6.0}
RICH_DQN = {**FAST_DQN, "double": True, "dueling": True, "n_step": 3, "tau": 0.2}
DISCRETE = {"dqn": FAST_DQN, "dqn_rich": RICH_DQN, "c51": FAST_C51}
DISCRETE["c51_nstep"] = {**FAST_C51, "n_step": 2}
SMALL = {"hidden": (32, 32), "batch_size": 32, "learning_starts": 50, "buffer_size": 5_000}
CONTINUOUS = ("ddpg", "td3", "sac")


class SignBandit(ParallelEnv):
    """See a sign s in {-1, +1} ([s, 1], or 0/1 as a Discrete observation); reward +1 for
    naming it (action 0 for -1, 1 for +1; the other way round when `flip`), -1 otherwise;
    action 2 is illegal (info mask). Truncated after `horizon` steps. Random legal play earns
    0 per step, perfect play 1; no fixed initial policy is perfect for both `flip` values."""

    metadata = {"name": "sign_bandit_v0", "render_modes": [], "is_parallelizable": True}
    MASK = np.array([1, 1, 0], np.int8)

    def __init__(self, discrete_obs: bool = False, horizon: int = 5, flip: bool = False):
        self.discrete_obs, self.horizon, self.flip = discrete_obs, horizon, flip
        self.possible_agents = ["agent_0"]
        self.agents: list[str] = []
        box = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._obs_space = spaces.Discrete(2) if discrete_obs else box

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(3)

    def _obs(self) -> Any:
        return self.sign if self.discrete_obs else np.array([2.0 * self.sign - 1, 1], np.float32)

    def _info(self) -> dict:
        return {"agent_0": {"cost": 0.0, "action_mask": self.MASK.copy()}}

    def reset(self, seed: int | None = None, options: Any = None) -> tuple[dict, dict]:
        self.rng = np.random.default_rng(seed)
        self.t, self.sign = 0, int(self.rng.integers(2))
        self.agents = ["agent_0"]
        return {"agent_0": self._obs()}, self._info()

    def step(self, actions: dict) -> tuple[dict, ...]:
        action = int(actions["agent_0"])
        assert action != 2, "illegal action taken"
        reward = 1.0 if action == self.sign ^ self.flip else -1.0
        self.t += 1
        self.sign = int(self.rng.integers(2))
        truncated = self.t >= self.horizon
        self.agents = [] if truncated else ["agent_0"]
        obs = {"agent_0": self._obs()}
        return obs, {"agent_0": reward}, {"agent_0": False}, {"agent_0": truncated}, self._info()


class TargetTracking(ParallelEnv):
    """One step: observe x ~ U(-1, 1), act a in [-1, 3], reward -(a - 1 - 2x)^2 (terminated).
    Uniform random actions score -8/3 on average; the optimum is 0."""

    metadata = {"name": "target_tracking_v0", "render_modes": [], "is_parallelizable": True}
    possible_agents = ["agent_0"]

    def observation_space(self, agent: str) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (1,), np.float32)

    def action_space(self, agent: str) -> spaces.Box:
        return spaces.Box(-1.0, 3.0, (1,), np.float32)

    def reset(self, seed: int | None = None, options: Any = None) -> tuple[dict, dict]:
        self.x = np.random.default_rng(seed).uniform(-1.0, 1.0, (1,)).astype(np.float32)
        self.agents = ["agent_0"]
        return {"agent_0": self.x}, {"agent_0": {"cost": 0.0}}

    def step(self, actions: dict) -> tuple[dict, ...]:
        error = float(np.asarray(actions["agent_0"])[0] - (1.0 + 2.0 * self.x[0]))
        self.agents = []
        obs, info = {"agent_0": self.x}, {"agent_0": {"cost": float(abs(error) > 1.0)}}
        return obs, {"agent_0": -(error**2)}, {"agent_0": True}, {"agent_0": False}, info


def discrete(case: str, **extra: Any) -> Any:
    agent_id = case.split("_")[0]
    box = spaces.Box(-1.0, 1.0, (3,), np.float32)
    return make_agent(agent_id, box, spaces.Discrete(4, start=10), **{**DISCRETE[case], **extra})


def continuous(algo: str, **extra: Any) -> Any:
    box = spaces.Box(-1.0, 1.0, (3,), np.float32)
    return make_agent(algo, box, spaces.Box(-1.0, 3.0, (2,), np.float32), **{**SMALL, **extra})


def random_masks(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    masks = rng.random((n, width)) < 0.5
    masks[np.arange(n), rng.integers(width, size=n)] = True  # at least one legal action
    return masks


# -- (a) acting on N rows ----------------------------------------------------------------------


def test_to_vectors_stacks_to_vector_rows() -> None:
    rng = np.random.default_rng(0)
    box = spaces.Box(-1.0, 1.0, (2, 3), np.float32)
    rows = rng.uniform(-1, 1, (5, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(to_vectors(box, rows), [to_vector(box, r) for r in rows])
    disc = spaces.Discrete(4, start=2)
    values = np.array([2, 5, 3])
    np.testing.assert_array_equal(to_vectors(disc, values), [to_vector(disc, v) for v in values])
    multi = spaces.MultiDiscrete([2, 3])
    cells = np.array([[0, 2], [1, 0]])
    np.testing.assert_array_equal(to_vectors(multi, cells), [to_vector(multi, c) for c in cells])
    masked = spaces.Dict({"observation": box, "action_mask": spaces.MultiBinary(2)})
    np.testing.assert_array_equal(to_vectors(masked, {"observation": rows}), to_vectors(box, rows))


@pytest.mark.parametrize("case", list(DISCRETE))
def test_discrete_explore_batch_is_per_row_greedy_with_per_row_masks(case: str) -> None:
    deterministic_torch(0)
    learner = discrete(case, epsilon_start=0.0, epsilon_end=0.0)
    rng = np.random.default_rng(1)
    obs = rng.uniform(-1, 1, (32, 3)).astype(np.float32)
    masks = random_masks(rng, 32, 4)
    actions = learner.explore_batch(obs, masks)
    assert actions.shape == (32,) and actions.dtype == np.int64
    assert list(actions) == [int(learner.act(o, m)) for o, m in zip(obs, masks, strict=True)]
    assert list(learner.explore_batch(obs)) == [int(learner.act(o)) for o in obs]
    # epsilon 1: uniform over each row's legal actions, never an illegal one
    learner = discrete(case)
    single = np.zeros((32, 4), bool)
    single[np.arange(32), rng.integers(4, size=32)] = True
    for _ in range(5):
        np.testing.assert_array_equal(learner.explore_batch(obs, single), 10 + single.argmax(1))
    spread = np.concatenate([learner.explore_batch(obs) for _ in range(10)])
    assert set(spread.tolist()) == {10, 11, 12, 13}
    with pytest.raises(ValueError, match="no action"):
        learner.explore_batch(obs[:2], np.zeros((2, 4), bool))


def test_dqn_epsilon_is_per_env_step_within_a_vector_step() -> None:
    deterministic_torch(0)  # epsilon(t) = 1 - t / 4: rows 4.. of the first vector step greedy
    learner = discrete("dqn", epsilon_start=1.0, epsilon_end=0.0, epsilon_decay_steps=4)
    obs = np.random.default_rng(2).uniform(-1, 1, (N, 3)).astype(np.float32)
    greedy = np.array([int(learner.act(o)) for o in obs])
    draws = np.stack([learner.explore_batch(obs) for _ in range(40)])
    assert (draws[:, 4:] == greedy[4:]).all()
    assert (draws[:, 0] != greedy[0]).any()  # row 0 explores with epsilon 1


def test_q_learning_explore_batch_is_per_row_greedy_with_masks() -> None:
    deterministic_torch(0)
    states = spaces.Discrete(6, start=1)
    learner = make_agent("q_learning", states, spaces.Discrete(3), epsilon_end=0.0)
    learner.steps = 10**6  # epsilon = 0 after the decay
    learner.q[:] = np.random.default_rng(0).normal(size=learner.q.shape)  # no ties
    states = np.array([1, 2, 3, 4, 5, 6, 1, 6])
    masks = random_masks(np.random.default_rng(1), len(states), 3)
    expected = [int(learner.act(s, m)) for s, m in zip(states, masks, strict=True)]
    assert list(learner.explore_batch(states, masks)) == expected


@pytest.mark.parametrize("algo", CONTINUOUS)
def test_continuous_explore_batch_without_noise_is_per_row_act(algo: str) -> None:
    deterministic_torch(0)
    extra = {} if algo == "sac" else {"exploration_noise": 0.0}
    learner = continuous(algo, learning_starts=0, **extra)
    if algo == "sac":  # pin log sigma at its floor: pi(s) is a point mass at tanh(mu(s))
        last = learner.actor.net[-1]
        with torch.no_grad():
            last.weight[2:].zero_()
            last.bias[2:].fill_(-50.0)
    obs = np.random.default_rng(3).uniform(-1, 1, (16, 3)).astype(np.float32)
    actions = learner.explore_batch(obs)
    assert actions.shape == (16, 2) and actions.dtype == np.float32
    np.testing.assert_allclose(actions, [learner.act(o) for o in obs], atol=1e-5)


@pytest.mark.parametrize("algo", CONTINUOUS)
def test_continuous_warm_up_is_per_env_step_within_a_vector_step(algo: str) -> None:
    deterministic_torch(0)
    extra = {} if algo == "sac" else {"exploration_noise": 0.0}
    learner = continuous(algo, learning_starts=3, **extra)
    obs = np.zeros((N, 3), np.float32)
    actions = learner.explore_batch(obs)  # env steps 0..7: the first 3 uniform
    space = spaces.Box(-1.0, 3.0, (2,), np.float32)
    assert all(space.contains(a) for a in actions)
    assert len({tuple(a) for a in actions[:3]}) == 3  # uniform rows differ from each other
    if algo != "sac":
        np.testing.assert_allclose(actions[3:], np.tile(learner.act(obs[0]), (5, 1)), atol=1e-5)


def test_ou_noise_has_one_process_per_copy() -> None:
    deterministic_torch(0)
    learner = continuous("ddpg", noise_type="ou", learning_starts=0)
    obs = np.zeros((4, 3), np.float32)
    for _ in range(3):
        learner.explore_batch(obs)
    states = learner.noise.states.clone()
    assert states.shape == (4, 2) and bool((states != 0).all())
    ended = np.array([False, True, False, False])
    learner.observe_batch(stream_batch(np.random.default_rng(0), 4, 2, ended, continuous=True))
    assert bool((learner.noise.states[1] == 0).all())
    assert torch.equal(learner.noise.states[[0, 2, 3]], states[[0, 2, 3]])


# -- (b) replay contents and the update schedule --------------------------------------------


def stream_batch(rng: Any, n: int, act: int, ended: Any, continuous: bool, t: int = 0) -> Any:
    """One synthetic vector step: obs [copy, t, 0] so that every row names its copy."""
    obs = np.zeros((n, 3), np.float32)
    obs[:, 0], obs[:, 1] = np.arange(n), t
    next_obs = obs.copy()
    next_obs[:, 1] += 1
    ends = rng.random(n) < 0.3 if ended is None else ended
    terminated = ends & (rng.random(n) < 0.5)
    action = rng.integers(10, 10 + act, n)  # Discrete(4, start=10)
    if continuous:
        action = rng.uniform(-1.0, 3.0, (n, act)).astype(np.float32)
    rewards, costs = rng.normal(size=n).astype(np.float32), rng.random(n).astype(np.float32)
    masks = None if continuous else random_masks(rng, n, act)
    return TransitionBatch(
        *(obs, action, rewards, costs, next_obs, terminated, ends & ~terminated, None, masks)
    )


def streams(continuous: bool, steps: int = 12) -> list[TransitionBatch]:
    """`steps` vector steps of N copies; every copy's stream ends with an episode end."""
    rng = np.random.default_rng(7)
    act = 2 if continuous else 4
    batches = [stream_batch(rng, N, act, None, continuous, t) for t in range(steps)]
    last = batches[-1]
    last.truncated |= ~last.terminated
    return batches


def as_states(batches: list[TransitionBatch]) -> list[TransitionBatch]:
    """The streams with Discrete observations (the step index t) for tabular Q-learning."""
    for b in batches:
        b.obs, b.next_obs = b.obs[:, 1].astype(int), b.next_obs[:, 1].astype(int)
    return batches


def replay_rows(buffer: ReplayBuffer) -> list[tuple]:
    fields = ["obs", "actions", "rewards", "costs", "next_obs", "dones", "next_masks", "discounts"]
    arrays = [
        getattr(buffer, f)[: len(buffer)] for f in fields if getattr(buffer, f, None) is not None
    ]
    return sorted(tuple(a[i].tobytes() for a in arrays) for i in range(len(buffer)))


@pytest.mark.parametrize("case", ["dqn", "dqn_rich", "c51_nstep", "ddpg", "td3", "sac"])
def test_observe_batch_equals_each_copy_fed_on_its_own(case: str) -> None:
    make = continuous if case in CONTINUOUS else discrete
    batched, per_copy, batches = make(case), make(case), streams(case in CONTINUOUS)
    for batch in batches:
        batched.observe_batch(batch)
    for c in range(N):
        for batch in batches:
            per_copy.observe(batch.row(c))
    assert batched.steps == per_copy.steps == N * len(batches)
    assert len(batched.buffer) == len(per_copy.buffer) > 0
    assert replay_rows(batched.buffer) == replay_rows(per_copy.buffer)
    buffer = batched.buffer
    assert (buffer.obs[: len(buffer), 0] == buffer.next_obs[: len(buffer), 0]).all()  # one copy
    if case == "dqn_rich":  # 3-step rows exist and span up to 3 steps of their copy
        span = buffer.next_obs[: len(buffer), 1] - buffer.obs[: len(buffer), 1]
        assert set(span.tolist()) == {1.0, 2.0, 3.0}
        np.testing.assert_allclose(buffer.discounts[: len(buffer)], 0.99**span, rtol=1e-6)


def test_q_learning_batch_backups_equal_single_steps_in_copy_order() -> None:
    def learner() -> Any:
        agent = make_agent("q_learning", spaces.Discrete(20), spaces.Discrete(4, start=10))
        agent.q[:] = np.random.default_rng(0).normal(size=agent.q.shape)
        return agent

    batched, single = learner(), learner()
    for batch in as_states(streams(False)):
        batched.observe_batch(batch)
        metrics = batched.update()
        errors = []
        for c in range(N):
            single.observe(batch.row(c))
            errors.append(single.update()["td_error"])
        assert metrics["td_error"] == pytest.approx(np.mean(errors))
    np.testing.assert_array_equal(batched.q, single.q)
    assert batched.steps == single.steps


def test_replay_add_batch_wraps_like_single_adds() -> None:
    rng = np.random.default_rng(0)
    rows = 23
    obs, next_obs = rng.normal(size=(rows, 3)), rng.normal(size=(rows, 3))
    actions, rewards, costs = rng.integers(4, size=rows), rng.normal(size=rows), rng.random(rows)
    dones, masks = rng.random(rows) < 0.5, random_masks(rng, rows, 4)
    single, batched = (ReplayBuffer(7, 3, (), np.int64, mask_dim=4) for _ in range(2))
    for i in range(rows):
        single.add(obs[i], actions[i], rewards[i], costs[i], next_obs[i], dones[i], masks[i])
    for start, stop in [(0, 3), (3, 12), (12, 23)]:  # the last batch is larger than capacity
        part = slice(start, stop)
        batched.add_batch(
            obs[part], actions[part], rewards[part], costs[part], next_obs[part], dones[part],
            masks[part],
        )  # fmt: skip
    for field in ("obs", "actions", "rewards", "costs", "next_obs", "dones", "next_masks"):
        np.testing.assert_array_equal(getattr(single, field), getattr(batched, field))
    assert (single.size, single._next) == (batched.size, batched._next)


@pytest.mark.parametrize(
    ("case", "params"),
    [
        ("dqn", {"train_freq": 4, "learning_starts": 20, "gradient_steps": 2}),
        ("c51", {"train_freq": 3, "learning_starts": 10}),
        ("ddpg", {"train_freq": 3, "learning_starts": 10, "gradient_steps": 2}),
        ("td3", {"train_freq": 2, "learning_starts": 20}),
        ("sac", {"train_freq": 1, "learning_starts": 10}),
    ],
)
def test_update_runs_the_gradient_steps_due_at_all_n_env_steps(case: str, params: dict) -> None:
    """After each vector step, a batched learner has taken as many gradient steps as a
    single-step learner fed the same transitions one by one (observe, update)."""
    params = {**params, "batch_size": 8}
    make = continuous if case in CONTINUOUS else discrete
    batched, single = make(case, **params), make(case, **params)
    batches = streams(case in CONTINUOUS, steps=6)
    for batch in batches:
        batched.observe_batch(batch)
        batched.update()
        for c in range(N):
            single.observe(batch.row(c))
            single.update()
        assert batched.updates == single.updates
    assert batched.updates > 0
    if case == "dqn":  # 16 env steps per vector step at train_freq 4, 2 gradient steps each
        before = batched.updates
        batched.observe_batch(batches[0])
        batched.update()
        assert batched.updates - before == (N // 4) * 2


# -- (c) learning through SyncVecEnv, determinism, checkpoints --------------------------------


def run_vectorized(learner: Any, make_env: Any, steps: int, seed: int = 0) -> SyncVecEnv:
    """Train `learner` for `steps` env steps over N copies: explore_batch, step,
    observe_batch, update."""
    vec = SyncVecEnv(make_env, N)
    obs, a = vec.reset(seed), "agent_0"
    for _ in range(steps // N):
        actions = learner.explore_batch(obs.observations[a], obs.action_masks[a])
        step = vec.step({a: actions})
        learner.observe_batch(
            TransitionBatch(
                *(obs.observations[a], actions, step.rewards[a], step.costs[a]),
                *(step.next_observation(a), step.terminated[a], step.truncated[a]),
                *(obs.action_masks[a], step.next_action_mask(a)),
            )
        )
        learner.update()
        obs = step
    return vec


def greedy_return(learner: Any, make_env: Any, vector_steps: int = 25) -> float:
    """Mean reward per env step of `act` over N copies (fresh seeds)."""
    vec = SyncVecEnv(make_env, N)
    obs, total = vec.reset(123), 0.0
    for _ in range(vector_steps):
        masks = obs.action_masks["agent_0"]
        rows = zip(obs.observations["agent_0"], [None] * N if masks is None else masks, strict=True)
        obs = vec.step({"agent_0": np.stack([learner.act(o, m) for o, m in rows])})
        total += float(obs.rewards["agent_0"].mean())
    return total / vector_steps


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("case", ["dqn", "dqn_rich", "c51", "q_learning"])
def test_discrete_learners_learn_the_sign_bandit_with_n_copies(case: str, flip: bool) -> None:
    deterministic_torch(0)
    discrete_obs = case == "q_learning"
    env = functools.partial(SignBandit, discrete_obs, flip=flip)
    space, act = env().observation_space("agent_0"), env().action_space("agent_0")
    params = {"learning_rate": 0.3, "epsilon_decay_steps": 300} if discrete_obs else DISCRETE[case]
    learner = make_agent(case.split("_rich")[0], space, act, **params)
    before = greedy_return(learner, env)
    run_vectorized(learner, env, 1_200)
    assert learner.steps == 1_200
    assert greedy_return(learner, env) >= 0.9, before  # random legal play: 0 per step


@pytest.mark.parametrize("algo", CONTINUOUS)
def test_continuous_learners_learn_target_tracking_with_n_copies(algo: str) -> None:
    deterministic_torch(0)
    env = TargetTracking()
    params = {**SMALL, "learning_rate": 3e-3}
    if algo == "td3":
        params["policy_delay"] = 1
    learner = make_agent(
        algo, env.observation_space("agent_0"), env.action_space("agent_0"), **params
    )
    run_vectorized(learner, TargetTracking, 400)
    assert learner.steps == 400 and len(learner.buffer) == 400
    assert greedy_return(learner, TargetTracking) > -0.3  # uniform random actions: -8/3


def leaves(value: Any) -> list[np.ndarray]:
    """Every tensor / number of a nested state dict, as arrays in a fixed order."""
    if isinstance(value, dict):
        return [leaf for key in sorted(value, key=str) for leaf in leaves(value[key])]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in leaves(v)]
    return [value.detach().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)]


@pytest.mark.parametrize("case", ["dqn_rich", "ddpg", "sac"])
def test_same_seed_and_n_repeat_exactly(case: str) -> None:
    def run(seed: int) -> list[np.ndarray]:
        deterministic_torch(seed)
        if case in CONTINUOUS:
            env, obs = TargetTracking, np.zeros((4, 1), np.float32)
            learner = make_agent(case, spaces.Box(-1, 1, (1,)), spaces.Box(-1, 3, (1,)), **SMALL)
        else:
            env, obs = SignBandit, np.zeros((4, 2), np.float32)
            learner = make_agent(
                "dqn", env().observation_space("a"), spaces.Discrete(3), **RICH_DQN
            )
        run_vectorized(learner, env, 160, seed)
        return [learner.explore_batch(obs), *leaves(learner.state_dict())]

    first, again, other = run(3), run(3), run(4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("case", ["dqn", "c51", "q_learning", "ddpg", "td3", "sac"])
def test_checkpoints_load_weights_only_and_without_new_keys(case: str) -> None:
    deterministic_torch(0)
    if case in CONTINUOUS:
        extra = {} if case == "sac" else {"noise_type": "ou"}  # OU: one noise state per copy
        learner, fresh, batches = (
            continuous(case, **extra),
            continuous(case, **extra),
            streams(True),
        )
    elif case == "q_learning":
        states, actions = spaces.Discrete(20), spaces.Discrete(4, start=10)
        learner, fresh = (make_agent(case, states, actions) for _ in range(2))
        batches = as_states(streams(False))
    else:
        learner, fresh = discrete(case, learning_starts=10, batch_size=8), discrete(case)
        batches = streams(False)
    for batch in batches:
        if case in CONTINUOUS:
            learner.explore_batch(batch.obs)
        learner.observe_batch(batch)
        learner.update()
    buffer = io.BytesIO()
    torch.save(learner.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    fresh.load_state_dict(state)
    obs = batches[0].obs
    np.testing.assert_array_equal([fresh.act(o) for o in obs], [learner.act(o) for o in obs])
    assert fresh.steps == learner.steps and fresh.update() == {}  # nothing due after loading
    old = {k: v for k, v in state.items() if k != "noise_states"}  # saved before this change
    fresh.load_state_dict(old)
