"""Vectorized training: N env copies stepped together, learners acting and learning on
batches; the same seed and N give the same run, the budget is exact, copies are seeded by
index whatever the implementation (in this process or in worker processes)."""

from __future__ import annotations

import numpy as np
import pytest

from testbed import load_scenario, make_vec_env, run
from testbed.errors import BadInput
from testbed.registry import ENVS, make_agent
from testbed.rollout.vector import SyncVecEnv, copy_seed
from testbed.rollout.vector_subproc import SubprocVecEnv
from testbed.train.state import TrainState
from testbed.train.vector_loop import train_vectorized

CARTPOLE = """
name: vec
stages:
  - kind: train
    name: learn
    env: gym/CartPole-v1
    agents: {agent_0: {id: ppo, params: {rollout_steps: 64, hidden: [16], epochs: 2}}}
    steps: 1003
    eval_every: 500
    eval_episodes: 1
"""


def rollout(vec, seed: int, steps: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    out = [vec.reset(seed).observations["agent_0"].copy()]
    for _ in range(steps):
        actions = {"agent_0": rng.integers(0, 2, vec.num_envs)}
        step = vec.step(actions)
        out += [step.observations["agent_0"].copy(), step.rewards["agent_0"].copy(),
                step.done.copy(), step.final.observations["agent_0"][step.done].copy()]  # fmt: skip
    return out


def test_copies_are_seeded_by_index_in_every_implementation():
    sync = make_vec_env("gym/CartPole-v1", 3, vectorization="sync")
    procs = make_vec_env("gym/CartPole-v1", 3, vectorization="subprocess")
    assert isinstance(sync, SyncVecEnv) and isinstance(procs, SubprocVecEnv)
    try:
        one, two = rollout(sync, 5, 60), rollout(procs, 5, 60)
    finally:
        sync.close()
        procs.close()
    assert len(one) == len(two) and all(np.array_equal(a, b) for a, b in zip(one, two, strict=True))
    assert sum(len(x) for x in one[3::4]) > 0  # some episodes ended and were reset
    # copy 1's first episode is the env reset with its copy seed
    from testbed.registry import make_env

    env = make_env("gym/CartPole-v1")
    first, _ = env.reset(seed=copy_seed(5, 1, 0))
    assert np.array_equal(one[0][1], first["agent_0"])


def test_same_seed_and_n_give_the_same_run_and_the_budget_is_exact(write_yaml, tmp_path):
    path = write_yaml(CARTPOLE)
    runs = [
        run(load_scenario(path, ["num_envs=4"]), tmp_path / f"r{k}", show=False).stages[0]
        for k in range(2)
    ]
    assert runs[0].steps == 1003  # not a multiple of 4: the last vector step covers 3 copies
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in x.curve] for x in runs]
    assert strip[0] == strip[1] and [r["step"] for r in strip[0]] == [500, 1000, 1003]
    assert runs[0].metrics["agent_0"]["updates"] >= 10  # rollouts of 64 over 4 copies


def test_a_learner_beside_fixed_partners_trains_on_copies():
    env = make_vec_env("mpe/simple_spread_v3", 4, vectorization="sync")
    spaces = (env.observation_space("agent_0"), env.action_space("agent_0"))
    learner = make_agent("ppo", *spaces, rollout_steps=32, hidden=[16], epochs=1)
    policies = {
        "agent_0": learner,
        "agent_1": make_agent("random", *spaces),
        "agent_2": make_agent("scripted/spread_nearest", *spaces),
    }
    episodes = []
    state = train_vectorized(
        env, policies, 200, seed=3, on_episode=lambda stats, _: episodes.append(stats)
    )
    env.close()
    assert state.step == 200 and learner.steps == 200 and learner.updates >= 5
    assert len(episodes) == 8 and all(e.length == 25 for e in episodes)  # 4 copies x 2 episodes
    assert isinstance(state, TrainState) and "agent_0" in state.metrics


def test_num_envs_is_refused_where_it_cannot_work(write_yaml, tmp_path):
    text = """
        kind: train
        env: classic/tictactoe_v3
        agents: {"*": {id: ppo}}
        steps: 100
        num_envs: 4
    """
    with pytest.raises(BadInput, match="num_envs: 4 cannot work: the env is turn-based"):
        run(load_scenario(write_yaml(text)), tmp_path / "never", show=False)


def test_turn_based_training_keeps_one_copy(write_yaml, tmp_path):
    text = """
        kind: train
        env: classic/tictactoe_v3
        agents: {"*": {id: ppo, params: {rollout_steps: 32}}}
        steps: 100
        eval_every: 50
        eval_episodes: 1
    """
    result = run(load_scenario(write_yaml(text)), tmp_path / "t", show=False).stages[0]
    assert result.steps == 100


def random_actions(vec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    actions = {}
    for agent in vec.possible_agents:
        space = vec.action_space(agent)
        if hasattr(space, "n"):
            actions[agent] = rng.integers(0, space.n, vec.num_envs)
        else:
            actions[agent] = rng.uniform(space.low, space.high, (vec.num_envs, *space.shape))
            actions[agent] = actions[agent].astype(space.dtype)
    return actions


def trace(vec, steps: int) -> list[np.ndarray]:
    rng = np.random.default_rng(4)
    first = vec.reset(11)
    out = [first.observations[a] for a in vec.possible_agents]
    for _ in range(steps):
        step = vec.step(random_actions(vec, rng))
        out.append(step.done.copy())
        for agent in vec.possible_agents:
            out += [step.observations[agent].copy(), step.rewards[agent].copy(),
                    step.costs[agent].copy(), step.next_observation(agent).copy()]  # fmt: skip
    return out


NATIVE = sorted(i for i, spec in ENVS.items() if spec.vector)


@pytest.mark.parametrize("env_id", NATIVE)
def test_a_native_batched_env_steps_like_its_copies(env_id):
    native = make_vec_env(env_id, 3, vectorization="native", step_limit=40)
    copies = make_vec_env(env_id, 3, vectorization="sync", step_limit=40)
    assert not isinstance(native, SyncVecEnv) and native.possible_agents == copies.possible_agents
    one, two = trace(native, 60), trace(copies, 60)
    native.close()
    copies.close()
    assert len(one) == len(two)
    for k, (a, b) in enumerate(zip(one, two, strict=True)):
        assert np.array_equal(a, b), f"{env_id}: entry {k} differs"


def test_native_is_refused_where_there_is_none():
    with pytest.raises(BadInput, match="no native batched implementation"):
        make_vec_env("gym/Acrobot-v1", 2, vectorization="native")


def test_an_env_with_its_own_max_steps_trains_on_copies(write_yaml, tmp_path):
    """The env's `max_steps` parameter and the stage's `max_steps` cut are different things
    (four rooms has both); both hold with several copies."""
    path = write_yaml(
        """
        name: rooms-copies
        stages:
          - kind: train
            env: {id: testbed/four_rooms_v0, params: {max_steps: 30}}
            agents: {agent_0: q_learning}
            steps: 400
            max_steps: 20
            num_envs: 2
        """
    )
    result = run(load_scenario(path), tmp_path / "run", show=False).stages[0]
    assert result.steps == 400 and result.episodes >= 400 // 20
    copies = make_vec_env("testbed/four_rooms_v0", 2, max_steps=5, step_limit=3)
    copies.reset(seed=0)
    lengths = 0
    while True:
        step = copies.step({"agent_0": np.zeros(2, np.int64)})
        lengths += 1
        if step.done.all():
            break
    assert lengths == 3
    copies.close()
