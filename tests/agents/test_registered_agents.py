"""Every agent in `testbed.registry.AGENTS`, with its catalog entry's `try_env` (default: its first
`envs`) and `try_params`: it is built on that env (in every seat it can act in; one group for a
joint class), runs a few hundred env steps (trained through `testbed.train.loop.train` when it
learns, which must reach at least one update with finite metrics; else played with
`run_episode`), and, when it has `state_dict` / `load_state_dict`, survives a checkpoint round
trip: the reloaded agent's `state_dict` equals the saved one tensor for tensor, and after the
same `reset(seed)` it chooses the same `act` actions as the original on fixed-seed episodes.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from testbed.agents.common.nets import deterministic_torch
from testbed.datasets.collect import play_and_record
from testbed.datasets.transitions import to_transitions
from testbed.errors import BadInput
from testbed.joint import is_joint, members
from testbed.registry import AGENTS, agent_class, make_agent, make_env
from testbed.registry.catalog_more import missing_here
from testbed.registry.checkpoint import load_checkpoint, save_checkpoint
from testbed.rollout.episode import action_mask, run_episode
from testbed.rollout.team import PolicyTeam
from testbed.seeding import stream_seed
from testbed.train.loop import train
from testbed.train.offline import learns_offline, offline_only
from testbed.train.state import group_name, learns

SEED = 0
STEPS = 300  # env steps of the short run
COMPARE = 40  # `act` decisions compared between the original and the reloaded agent
COMPARE_EPISODE = 25  # steps per comparison episode at most


def try_env(agent_id: str) -> str:
    spec = AGENTS[agent_id]
    env_id = spec.try_env or (spec.envs[0] if spec.envs else None)
    assert env_id, f"{agent_id!r}: give its catalog entry a `try_env` (it has no `envs`)"
    return env_id


class Seated:
    """The policies of every env agent, and the agents under test with their spaces: one joint
    group (spaces as {agent: space} dicts), or one agent per seat it can act in."""

    def __init__(self, agent_id: str, env: Any, params: dict[str, Any]):
        names = list(env.possible_agents)
        self.policies: dict[str, Any] = {}
        self.built: list[tuple[str, Any, Any, Any]] = []  # (seat, agent, obs space, act space)
        if is_joint(agent_class(agent_id)):
            obs = {a: env.observation_space(a) for a in names}
            act = {a: env.action_space(a) for a in names}
            group = make_agent(agent_id, obs, act, **params)
            self.policies = dict(members(group))
            self.built = [(group_name(names), group, obs, act)]
            self.joint = True
            return
        self.joint = False
        errors = []
        for a in names:
            obs, act = env.observation_space(a), env.action_space(a)
            try:
                self.policies[a] = make_agent(agent_id, obs, act, **params)
            except BadInput as exc:  # not its role (e.g. a tag chaser in the prey's seat)
                errors.append(exc)
                self.policies[a] = make_agent("random", obs, act)
            else:
                self.built.append((a, self.policies[a], obs, act))
        if not self.built:
            raise errors[0]


def play(env: Any, seed: int, choose: Callable[[dict, dict], dict], max_steps: int) -> None:
    """One episode (at most `max_steps` steps) of either PettingZoo API, where
    `choose(observations, masks) -> actions` moves the agents to move."""
    steps = 0
    if hasattr(env, "agent_iter"):
        env.reset(seed=seed)
        for agent in env.agent_iter():
            observation, _, terminated, truncated, info = env.last()
            if terminated or truncated:
                env.step(None)
                continue
            if steps >= max_steps:
                return
            mask = action_mask(observation, info)
            env.step(choose({agent: observation}, {agent: mask})[agent])
            steps += 1
        return
    observations, infos = env.reset(seed=seed)
    while env.agents and steps < max_steps:
        live = list(env.agents)
        masks = {a: action_mask(observations[a], infos.get(a)) for a in live}
        observations, _, _, _, infos = env.step(choose({a: observations[a] for a in live}, masks))
        steps += 1


def assert_same_state(got: Any, want: Any, where: str = "state") -> int:
    """`got` equals `want`: tensors by torch.equal (same dtype and shape), dicts by keys, lists
    and tuples item by item, numbers exactly (NaN equals NaN); returns the number of tensors."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, torch.Tensor), f"{where}: {type(got).__name__}, not a tensor"
        assert got.dtype == want.dtype, f"{where}: dtype {got.dtype} != {want.dtype}"
        assert got.shape == want.shape, f"{where}: shape {tuple(got.shape)} != {tuple(want.shape)}"
        assert torch.equal(got, want), f"{where}: tensors differ"
        return 1
    if isinstance(want, Mapping):
        assert isinstance(got, Mapping), f"{where}: {type(got).__name__}, not a dict"
        assert set(got) == set(want), (
            f"{where}: keys {sorted(map(str, got))} != {sorted(map(str, want))}"
        )
        return sum(assert_same_state(got[k], want[k], f"{where}[{k!r}]") for k in want)
    if isinstance(want, list | tuple):
        assert isinstance(got, list | tuple), f"{where}: {type(got).__name__}, not a sequence"
        assert len(got) == len(want), f"{where}: length {len(got)} != {len(want)}"
        return sum(
            assert_same_state(g, w, f"{where}[{i}]")
            for i, (g, w) in enumerate(zip(got, want, strict=True))
        )
    if isinstance(want, np.ndarray):
        assert np.array_equal(got, want, equal_nan=want.dtype.kind in "fc"), (
            f"{where}: arrays differ"
        )
        return 0
    if isinstance(want, float) and math.isnan(want):
        assert isinstance(got, float) and math.isnan(got), f"{where}: {got!r} != nan"
        return 0
    assert got == want, f"{where}: {got!r} != {want!r}"
    return 0


def same_action(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return (
            isinstance(a, Mapping)
            and isinstance(b, Mapping)
            and set(a) == set(b)
            and all(same_action(a[k], b[k]) for k in a)
        )
    if isinstance(a, tuple) or isinstance(b, tuple):
        return len(a) == len(b) and all(same_action(x, y) for x, y in zip(a, b, strict=True))
    return np.array_equal(np.asarray(a), np.asarray(b))


def short_run(agent_id: str, env_id: str, env: Any, seated: Seated) -> None:
    """STEPS env steps: training when the seats learn (at least one update must happen),
    else whole episodes with `act`."""
    seats = [seat for seat, _, _, _ in seated.built]
    if any(learns_offline(p) for p in seated.policies.values()):
        load_random_play(env, seated)
        if any(offline_only(p) for p in seated.policies.values()):
            take_gradient_steps(agent_id, seated)
            return
    if any(learns(p) for p in seated.policies.values()):
        state = train(env, seated.policies, STEPS, seed=SEED)
        assert state.step == STEPS
        updated = {seat: state.metrics[seat] for seat in seats if state.metrics.get(seat)}
        assert updated, (
            f"{agent_id!r} made no update in {STEPS} steps on {env_id!r}: make its `try_params` "
            "smaller (rollout_steps, batch_size, learning_starts)"
        )
        for seat, metrics in updated.items():
            bad = {k: v for k, v in metrics.items() if not np.isfinite(float(v))}
            assert not bad, f"{agent_id!r} ({seat}): non-finite update metrics {bad}"
        return
    team, steps, episode = PolicyTeam(seated.policies), 0, 0
    acting = set(seated.policies) if seated.joint else set(seats)
    while steps < STEPS:
        record = run_episode(env, team, stream_seed(SEED, "try", episode))
        assert any(record.agents[a].steps for a in acting if a in record.agents), record
        steps += record.length
        episode += 1


def load_random_play(env: Any, seated: Seated) -> None:
    """Learners with `load_data` get a dataset of random play (STEPS transitions or more)
    through `to_transitions`."""
    team = PolicyTeam(
        {
            a: make_agent("random", env.observation_space(a), env.action_space(a))
            for a in env.possible_agents
        }
    )
    episodes: dict[str, list] = {a: [] for a in env.possible_agents}
    steps, k = 0, 0
    while steps < STEPS:
        played = play_and_record(env, team, stream_seed(SEED, "data", k))
        for a, e in played.items():
            episodes[a].append(e)
        steps += max(len(e) for e in played.values())
        k += 1
    for seat, agent, obs_space, act_space in seated.built:
        agent.load_data(to_transitions(episodes[seat], obs_space, act_space))


def take_gradient_steps(agent_id: str, seated: Seated) -> None:
    """Offline learners: STEPS gradient steps (`update()`), each with finite metrics."""
    for seat, agent, _, _ in seated.built:
        for _ in range(STEPS):
            metrics = agent.update()
        assert metrics, f"{agent_id!r} ({seat}): update() returned no metrics"
        bad = {k: v for k, v in metrics.items() if not np.isfinite(float(v))}
        assert not bad, f"{agent_id!r} ({seat}): non-finite update metrics {bad}"


def assert_same_acting(env: Any, policies: dict[str, Any], twins: dict[str, Any]) -> None:
    """After the same `reset(seed)`, the reloaded agent (`twins`: its seats) chooses the
    original's `act` action (in `policies`) at each of COMPARE decisions of fixed-seed episodes;
    the original's actions drive the env."""
    team = PolicyTeam(policies)
    twin_team = PolicyTeam({**policies, **twins})
    compared = 0

    def choose(observations: dict[str, Any], masks: dict[str, Any]) -> dict[str, Any]:
        nonlocal compared
        actions = team.act(observations, masks)
        for agent in observations:
            if agent in twins:
                again = twins[agent].act(observations[agent], masks.get(agent))
                assert same_action(actions[agent], again), (
                    f"decision {compared} ({agent}): the original acts {actions[agent]!r}, "
                    f"the reloaded agent {again!r}"
                )
                compared += 1
        return actions

    for episode in range(50):
        seed = stream_seed(SEED, "compare", episode)
        twin_team.reset(seed)
        team.reset(seed)  # both sides of the shared seats get the same seeds
        play(env, seed, choose, COMPARE_EPISODE)
        if compared >= COMPARE:
            return
    pytest.fail(f"only {compared} decisions compared")


def _agent_ids() -> list:
    """Every registered agent; one whose only env is legacy-only is marked on the modern stack."""
    ids = []
    for agent_id in sorted(AGENTS):
        env_id = try_env(agent_id)
        why = missing_here().get(env_id)
        mark = pytest.mark.skip(reason=f"its env {env_id}: legacy stack only ({why})")
        ids.append(pytest.param(agent_id, marks=mark) if why else agent_id)
    return ids


@pytest.mark.parametrize("agent_id", _agent_ids())
def test_registered_agent_runs_and_round_trips(agent_id: str, tmp_path: Path) -> None:
    env_id = try_env(agent_id)
    params = copy.deepcopy(AGENTS[agent_id].try_params)
    deterministic_torch(SEED)
    env = make_env(env_id)
    seated = Seated(agent_id, env, params)
    short_run(agent_id, env_id, env, seated)

    seat, original, obs_space, act_space = seated.built[0]
    if not all(callable(getattr(original, m, None)) for m in ("state_dict", "load_state_dict")):
        return
    folder = save_checkpoint(
        tmp_path / "ckpt",
        original,
        agent_id=agent_id,
        params=params,
        observation_space=obs_space,
        action_space=act_space,
    )
    saved = original.state_dict()
    assert_same_state(torch.load(folder / "weights.pt", weights_only=True), saved, "weights.pt")
    loaded = load_checkpoint(folder, obs_space, act_space)
    assert type(loaded) is type(original) and loaded is not original
    tensors = assert_same_state(loaded.state_dict(), saved)
    assert tensors, f"{agent_id!r}: its state_dict holds no tensor, the round trip checks nothing"
    twins = dict(members(loaded)) if seated.joint else {seat: loaded}
    assert_same_acting(env, seated.policies, twins)
