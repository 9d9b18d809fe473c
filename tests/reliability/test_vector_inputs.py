"""Vectorized training against bad input and faults: every mistake is one clear message with
its place in the file (exit 2, also from `testbed validate`), a failing env copy in a worker
process fails the run with the worker's own message, and no partial step or resumed run
trains on data it should not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from testbed import make_vec_env
from testbed.errors import BadInput
from testbed.registry import make_agent
from testbed.rollout.vector_subproc import SubprocVecEnv
from testbed.train.state import TrainState
from testbed.train.vector_loop import train_vectorized

FAKE_ENVS = Path(__file__).resolve().parents[1] / "support" / "fake_envs.py"


def line_of(path: Path, field: str | None) -> int | None:
    """The 1-based line of the file where `field:` starts (None for None)."""
    if field is None:
        return None
    lines = path.read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.startswith(f"{field}:"))


def stage(body: str) -> str:
    return "kind: train\nsteps: 200\neval_every: 100\neval_episodes: 1\n" + body


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            "env: gym/Acrobot-v1\nagents: {agent_0: ppo}\nnum_envs: 4\nvectorization: native\n",
            "vectorization",
            "no native batched implementation",
        ),
        (
            "env: gym/CartPole-v1\nagents: {agent_0: ppo}\nnum_envs: 1\n"
            "vectorization: subprocess\n",
            "vectorization",
            "vectorization: subprocess has no effect",
        ),
        (
            "env: classic/tictactoe_v3\nagents: {'*': ppo}\nnum_envs: 4\n"
            "self_play: {snapshot_every: 100}\n",
            None,
            "`num_envs` and `vectorization` do not work with `self_play`",
        ),
        (
            "env: {id: mpe/simple_spread_v3, params: {local_ratio: 2.5}}\n"
            "agents: {'*': mappo}\nnum_envs: 4\n",
            "env",
            "local_ratio",
        ),
    ],
)
def test_validate_and_run_refuse_bad_vectorization(cli, write_yaml, tmp_path, body, field,
                                                   message):  # fmt: skip
    path = write_yaml(stage(body))
    line = line_of(path, field)
    for args in (["validate", path], ["run", path, "--out", tmp_path / "run"]):
        outcome = cli(*args)
        assert outcome.code == 2, outcome.text
        assert message in outcome.text and "Traceback" not in outcome.text
        if line is not None:
            assert f"{path.name}:{line}:" in outcome.text


def test_yaml_numbers_reach_a_native_env_converted(write_yaml, tmp_path, cli):
    # YAML 1.1 reads 5e-1 as a string; the single env converts it, so must the batched one
    path = write_yaml(stage(
        "env: {id: mpe/simple_spread_v3, params: {local_ratio: 5e-1}}\n"
        "agents: {'*': {id: mappo, params: {rollout_steps: 64}}}\nnum_envs: 4\n"
    ))  # fmt: skip
    outcome = cli("run", path, "--out", tmp_path / "run")
    assert outcome.code == 0, outcome.text


def test_agents_that_leave_are_bad_input_with_their_place(write_yaml, tmp_path, cli):
    path = write_yaml(stage(f"env: {FAKE_ENVS}:come_and_go\nagents: {{'*': ppo}}\nnum_envs: 2\n"))
    outcome = cli("run", path, "--out", tmp_path / "run")
    assert outcome.code == 2, outcome.text
    assert "every agent to act until the episode ends" in outcome.text
    assert f"{path.name}:{line_of(path, 'num_envs')}:" in outcome.text


def test_one_robot_of_safe_navigation_trains_on_native_copies(write_yaml, tmp_path, cli):
    path = write_yaml(stage(
        "env: {id: testbed/safe_navigation_v0, params: {n_agents: 1}}\n"
        "agents: {'*': {id: ppo_lagrangian, params: {rollout_steps: 64}}}\nnum_envs: 4\n"
    ))  # fmt: skip
    outcome = cli("run", path, "--out", tmp_path / "run")
    assert outcome.code == 0, outcome.text


def test_make_vec_env_refuses_bad_arguments():
    with pytest.raises(BadInput, match="num_envs must be a whole number of at least 1"):
        make_vec_env("gym/CartPole-v1", 0, vectorization="subprocess")
    with pytest.raises(BadInput, match="vectorization must be one of"):
        make_vec_env("gym/CartPole-v1", 2, vectorization="subproc")


def test_a_worker_error_reaches_the_parent_with_its_message():
    vec = make_vec_env("gym/CartPole-v1", 2, vectorization="subprocess")
    assert isinstance(vec, SubprocVecEnv)
    vec.reset(0)
    with pytest.raises(AssertionError, match="an env worker process failed: AssertionError"):
        vec.step({"agent_0": np.array([7, 7])})  # not an action of CartPole
    vec.close()
    assert not vec.conns and not any(p.is_alive() for p in vec.processes)


def test_mappo_never_updates_on_the_last_partial_vector_step():
    vec = make_vec_env("mpe/simple_spread_v3", 16, N=2)
    spaces = {a: vec.observation_space(a) for a in vec.possible_agents}
    actions = {a: vec.action_space(a) for a in vec.possible_agents}
    group = make_agent("mappo", spaces, actions, rollout_steps=100)
    from testbed.joint import members

    state = train_vectorized(vec, members(group), 100, seed=0)  # 6 steps of 16, then 4 rows
    assert state.step == 100 and group.steps == 100
    assert group.updates == 0  # 96 rows collected, the 4 of the last step not stored


def test_reinforce_drops_what_the_old_policy_collected_after_an_update():
    vec = make_vec_env("gym/CartPole-v1", 4)
    learner = make_agent("reinforce", vec.observation_space("agent_0"), vec.action_space("agent_0"))
    seen = []

    def after_step(_state):
        if learner.updates > len(seen):
            seen.append([len(steps) for steps in learner.episodes])

    train_vectorized(vec, {"agent_0": learner}, 400, seed=0, on_step=after_step)
    assert seen and all(lengths == [0, 0, 0, 0] for lengths in seen)


def test_a_resumed_vectorized_run_plays_new_episodes():
    seeds = []

    class Recording:
        def __init__(self, vec):
            self.vec = vec

        def __getattr__(self, name):
            return getattr(self.vec, name)

        def reset(self, seed):
            seeds.append(seed)
            return self.vec.reset(seed)

    vec = make_vec_env("gym/CartPole-v1", 2)
    learner = make_agent("ppo", vec.observation_space("agent_0"), vec.action_space("agent_0"))
    train_vectorized(Recording(vec), {"agent_0": learner}, 10, seed=3)
    train_vectorized(Recording(vec), {"agent_0": learner}, 20, seed=3, state=TrainState(step=10))
    assert seeds[0] == 3 and seeds[1] != 3
