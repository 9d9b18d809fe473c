"""Hindsight experience replay (agents/common/her.py) and the `her:` option of DQN, DDPG, TD3
and SAC: goals chosen by each strategy, relabelled rewards and terminations, rows reaching
replay (one env and several copies), goal dicts read as [observation, desired_goal], and the
errors for a `her:` that cannot work."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from testbed.agents.common.her import HERConfig, HindsightRelabeller, sparse_reward
from testbed.agents.common.spaces import obs_dim, to_vector, to_vectors
from testbed.errors import BadInput
from testbed.registry import make_agent, make_env
from testbed.rollout.make_vec import make_vec_env
from testbed.train.loop import train
from testbed.train.vector_loop import train_vectorized

BOX = spaces.Box(-10.0, 10.0, (2,), np.float32)
GOAL_SPACE = spaces.Dict({"observation": BOX, "achieved_goal": BOX, "desired_goal": BOX})


def goal_obs(position: float, goal: float) -> dict[str, np.ndarray]:
    point = np.array([position, 0.0], np.float32)
    return {
        "observation": point,
        "achieved_goal": point.copy(),
        "desired_goal": np.array([goal, 0.0], np.float32),
    }


def walk(length: int, goal: float = 9.0) -> list[dict]:
    """An episode that moves +1 per step from 0 and never reaches `goal`; truncated last."""
    return [
        {
            "obs": goal_obs(t, goal),
            "action": np.array([1.0], np.float32),
            "reward": -1.0,
            "cost": 0.0,
            "next_obs": goal_obs(t + 1, goal),
            "terminated": False,
            "truncated": t == length - 1,
        }
        for t in range(length)
    ]


def relabel(strategy: str, k: int = 3, length: int = 4, **extra) -> dict[str, np.ndarray]:
    her = HindsightRelabeller(HERConfig(strategy=strategy, k=k, **extra), GOAL_SPACE)
    out = None
    for step in walk(length):
        assert out is None  # nothing is stored before the episode ends
        out = her.push(0, step)
    assert out is not None
    return out


def test_goal_dicts_read_as_observation_then_desired_goal() -> None:
    assert obs_dim(GOAL_SPACE) == 4
    np.testing.assert_array_equal(to_vector(GOAL_SPACE, goal_obs(2.0, 5.0)), [2, 0, 5, 0])
    stacked = {k: np.stack([goal_obs(1, 3)[k], goal_obs(4, 6)[k]]) for k in goal_obs(0, 0)}
    np.testing.assert_array_equal(to_vectors(GOAL_SPACE, stacked), [[1, 0, 3, 0], [4, 0, 6, 0]])
    rows = np.array([goal_obs(1, 3), goal_obs(4, 6)], dtype=object)  # SyncVecEnv's stacking
    np.testing.assert_array_equal(to_vectors(GOAL_SPACE, rows), [[1, 0, 3, 0], [4, 0, 6, 0]])


def test_real_rows_come_first_and_keep_their_goal_and_reward() -> None:
    rows = relabel("final", k=2, length=4)
    assert len(rows["reward"]) == 4 * (1 + 2)
    np.testing.assert_array_equal(rows["obs"][:4, 2], [9, 9, 9, 9])
    np.testing.assert_array_equal(rows["reward"][:4], [-1, -1, -1, -1])
    assert not rows["done"][:4].any()


def test_final_strategy_relabels_with_the_last_achieved_goal() -> None:
    rows = relabel("final", k=2, length=4)
    relabelled = slice(4, None)
    np.testing.assert_array_equal(rows["obs"][relabelled, 2], np.full(8, 4.0))
    np.testing.assert_array_equal(rows["next_obs"][relabelled, 2], np.full(8, 4.0))
    # only the last step (position 3 -> 4) reaches goal 4: reward 0 and done there
    np.testing.assert_array_equal(rows["reward"][relabelled], [-1, -1, -1, -1, -1, -1, 0, 0])
    np.testing.assert_array_equal(rows["done"][relabelled], rows["reward"][relabelled] == 0)


def test_future_strategy_takes_goals_reached_at_or_after_the_step() -> None:
    torch.manual_seed(0)
    rows = relabel("future", k=50, length=5)
    steps = rows["obs"][5:, 0]  # position at step t
    goals = rows["obs"][5:, 2]
    assert np.all(goals >= steps + 1) and np.all(goals <= 5)
    assert len(np.unique(goals[steps == 0])) == 5  # every later goal gets drawn
    np.testing.assert_array_equal(rows["reward"][5:], np.where(goals == steps + 1, 0.0, -1.0))


def test_episode_strategy_takes_any_goal_of_the_episode() -> None:
    torch.manual_seed(0)
    rows = relabel("episode", k=50, length=5)
    steps, goals = rows["obs"][5:, 0], rows["obs"][5:, 2]
    assert (goals < steps + 1).any()  # earlier goals too
    assert set(np.unique(goals)) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_without_terminate_on_success_relabelled_steps_keep_their_termination() -> None:
    rows = relabel("final", k=1, length=3, terminate_on_success=False)
    assert rows["reward"][-1] == 0.0 and not rows["done"].any()


def test_sparse_reward_threshold() -> None:
    got = sparse_reward(np.array([[0.0, 0.0], [0.0, 0.1]]), np.zeros((2, 2)), 0.05)
    np.testing.assert_array_equal(got, [0.0, -1.0])


def bit_flip_dqn(n_bits: int = 4, **her):
    env = make_env("testbed/bit_flip_v0", n_bits=n_bits)
    learner = make_agent(
        "dqn",
        env.observation_space("agent_0"),
        env.action_space("agent_0"),
        hidden=[32],
        learning_starts=50,
        train_freq=4,
        batch_size=16,
        her={"strategy": "future", "k": 2, **her},
    )
    return env, learner


def test_dqn_her_trains_on_bit_flip_and_stores_relabelled_episodes() -> None:
    torch.manual_seed(0)
    env, learner = bit_flip_dqn()
    state = train(env, {"agent_0": learner}, 200, seed=0)
    stored = len(learner.buffer)
    finished = 200 - sum(len(e) for e in learner.her.episodes.values())
    assert stored == 3 * finished  # each finished step: 1 real + k = 2 relabelled rows
    assert learner.updates > 0 and state.step == 200
    # relabelled rows reach their goal somewhere: rewards 0 appear though the task is unsolved
    assert (learner.buffer.rewards[:stored] == 0).sum() > 0


def test_dqn_her_on_several_env_copies() -> None:
    torch.manual_seed(0)
    _, learner = bit_flip_dqn()
    copies = make_vec_env("testbed/bit_flip_v0", 3, n_bits=4)
    train_vectorized(copies, {"agent_0": learner}, 120, seed=0)
    copies.close()
    assert set(learner.her.episodes) <= {0, 1, 2}
    pending = sum(len(e) for e in learner.her.episodes.values())
    assert len(learner.buffer) == 3 * (120 - pending)


@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac"])
def test_continuous_learners_relabel_with_her(algo: str) -> None:
    torch.manual_seed(0)
    learner = make_agent(
        algo,
        GOAL_SPACE,
        spaces.Box(-1.0, 1.0, (1,), np.float32),
        hidden=[16],
        learning_starts=4,
        batch_size=4,
        her={"strategy": "final", "k": 2, "terminate_on_success": False},
    )
    for step in walk(4):
        learner.observe(step)
        learner.update()
    assert len(learner.buffer) == 12
    np.testing.assert_array_equal(learner.buffer.rewards[4:12], [-1, -1, -1, -1, -1, -1, 0, 0])
    assert learner.act(goal_obs(0.0, 3.0)).shape == (1,)


def test_her_on_an_env_without_goals_is_bad_input() -> None:
    env = make_env("gym/CartPole-v1")
    with pytest.raises(BadInput, match="goal-conditioned Dict"):
        make_agent("dqn", env.observation_space("agent_0"), env.action_space("agent_0"), her={})


@pytest.mark.parametrize(
    ("her", "message"),
    [({"strategy": "later"}, "strategy"), ({"k": 0}, "her.k"), ({"kk": 1}, "kk")],
)
def test_bad_her_blocks_are_bad_input(her: dict, message: str) -> None:
    env = make_env("testbed/bit_flip_v0", n_bits=3)
    with pytest.raises(BadInput, match=message):
        make_agent("dqn", env.observation_space("agent_0"), env.action_space("agent_0"), her=her)


def test_her_needs_one_step_returns() -> None:
    env = make_env("testbed/bit_flip_v0", n_bits=3)
    with pytest.raises(BadInput, match="n_step"):
        make_agent(
            "dqn", env.observation_space("agent_0"), env.action_space("agent_0"), her={}, n_step=3
        )
