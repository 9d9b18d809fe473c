"""MAPPO (joint learner): training through the harness on MPE, agents with different spaces
(padding, masks, Box dims), the same input vectors as SuperSuit's padding + agent-indicator
wrappers, per-agent GAE, state round-trips, determinism, a fast learning check on a one-step
two-agent task, and space errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from testbed.agents.common.nets import deterministic_torch
from testbed.agents.common.rollout import gae
from testbed.agents.marl.mappo import MAPPO, MAPPOConfig
from testbed.joint import members
from testbed.registry import make_agent, make_env
from testbed.train.loop import evaluate, train

SMALL = MAPPOConfig(rollout_steps=50, epochs=2, minibatches=2, hidden=(32, 32))
SPREAD = {"N": 3, "max_cycles": 25, "continuous_actions": False}


def build(env: Any, config: MAPPOConfig = SMALL, cls: type = MAPPO) -> Any:
    return cls(
        {a: env.observation_space(a) for a in env.possible_agents},
        {a: env.action_space(a) for a in env.possible_agents},
        config,
    )


class ContextMatch(ParallelEnv):
    """One step per episode. Agent i sees a one-hot context c_i (agent_0: 3 contexts, agent_1:
    5, so observation dims differ) and picks one of its actions (agent_0: 3, agent_1: 4, the
    mask forbids action 3); both are paid, as a team, 1 for every agent whose action equals its
    context (agent_1's context 4 matches no action). Uniform random legal play scores
    1/3 + (4/5)(1/3) = 0.6; the optimum is 1 + 4/5 = 1.8 on average. With `continuous`, both act
    in Box(-1, 1) of dims 2 and 1 and are paid -sum of squared distances to targets they see."""

    metadata = {"name": "context_match_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, continuous: bool = False):
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents: list[str] = []
        self.continuous = continuous
        self.contexts = {"agent_0": 3, "agent_1": 5}
        self.dims = {"agent_0": 2, "agent_1": 1}
        if continuous:
            self._obs = {a: spaces.Box(-1.0, 1.0, (d,), np.float32) for a, d in self.dims.items()}
            self._act = {
                "agent_0": spaces.Box(-1.0, 1.0, (2,), np.float32),
                "agent_1": spaces.Box(0.0, 2.0, (1,), np.float32),
            }
        else:
            self._obs = {
                a: spaces.Box(0.0, 1.0, (n,), np.float32) for a, n in self.contexts.items()
            }
            self._act = {"agent_0": spaces.Discrete(3), "agent_1": spaces.Discrete(4)}
        self.rng = np.random.default_rng(0)
        self.state: dict[str, Any] = {}

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act[agent]

    def _observe(self) -> dict[str, np.ndarray]:
        if self.continuous:
            return {a: self.state[a].astype(np.float32) for a in self.possible_agents}
        return {
            a: np.eye(self.contexts[a], dtype=np.float32)[self.state[a]]
            for a in self.possible_agents
        }

    def _infos(self) -> dict[str, dict[str, Any]]:
        if self.continuous:
            return {a: {"cost": 0.0} for a in self.possible_agents}
        return {
            "agent_0": {"cost": 0.0},
            "agent_1": {"cost": 0.0, "action_mask": np.array([1, 1, 1, 0], np.int8)},
        }

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        if self.continuous:
            self.state = {
                "agent_0": self.rng.uniform(-1, 1, 2),
                "agent_1": self.rng.uniform(-1, 1, 1),
            }
        else:
            self.state = {a: int(self.rng.integers(n)) for a, n in self.contexts.items()}
        return self._observe(), self._infos()

    def step(self, actions: dict[str, Any]):
        if self.continuous:
            target = {"agent_0": self.state["agent_0"], "agent_1": self.state["agent_1"] + 1.0}
            team = -sum(float(np.sum((actions[a] - target[a]) ** 2)) for a in self.agents)
        else:
            team = float(sum(int(actions[a]) == self.state[a] for a in self.agents))
        obs, infos = self._observe(), self._infos()
        agents, self.agents = self.agents, []
        return (
            obs, {a: team for a in agents}, {a: True for a in agents},
            {a: False for a in agents}, infos,
        )  # fmt: skip


def weights(learner: Any) -> list[torch.Tensor]:
    return [p.detach().clone() for m in (*learner.actors, *learner.critics)
            for p in m.parameters()]  # fmt: skip


# -- training through the harness --------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"share_parameters": False, "centralized_value": False},
        {"continuous_actions": True},
    ],
)
def test_trains_on_spread_through_the_harness(params: dict[str, Any]) -> None:
    deterministic_torch(0)
    continuous = params.pop("continuous_actions", False)
    env = make_env("mpe/simple_spread_v3", **{**SPREAD, "continuous_actions": continuous})
    group = build(env, MAPPOConfig(**{**SMALL.__dict__, **params}))
    state = train(env, members(group), 120, seed=1)
    metrics = next(iter(state.metrics.values()))
    assert group.updates == 2 and group.steps == 120
    assert all(math.isfinite(v) for v in metrics.values())
    assert {"policy_loss", "value_loss", "entropy", "approx_kl"} <= set(metrics)
    obs, _ = env.reset(seed=3)
    actions = group.act(obs, {a: None for a in obs})
    for agent, action in actions.items():
        assert env.action_space(agent).contains(action)


def test_registry_builds_the_joint_learner_with_scenario_params() -> None:
    env = make_env("mpe/simple_spread_v3", **SPREAD)
    group = make_agent(
        "mappo",
        {a: env.observation_space(a) for a in env.possible_agents},
        {a: env.action_space(a) for a in env.possible_agents},
        rollout_steps=64,
        centralized_value=False,
    )
    assert isinstance(group, MAPPO) and group.config.rollout_steps == 64
    assert group.agents == env.possible_agents


# -- inputs: padding, indicator, centralised critic -------------------------------------------


def test_inputs_match_supersuit_padding_and_agent_indicator() -> None:
    """simple_adversary: the adversary sees 8 floats, the good agents 10."""
    import supersuit

    env = make_env("mpe/simple_adversary_v3", N=2, max_cycles=25)
    wrapped = supersuit.agent_indicator_v0(
        supersuit.pad_observations_v0(make_env("mpe/simple_adversary_v3", N=2, max_cycles=25))
    )
    dims = {obs_space.shape[0] for obs_space in map(env.observation_space, env.possible_agents)}
    assert len(dims) == 2  # the test needs different observation dims
    group = build(env)
    for seed in (0, 1):
        obs, _ = env.reset(seed=seed)
        reference, _ = wrapped.reset(seed=seed)
        for _ in range(3):
            for agent in env.possible_agents:
                np.testing.assert_array_equal(
                    group.actor_input(agent, obs[agent]), reference[agent].astype(np.float32)
                )
            actions = {a: env.action_space(a).sample() for a in env.agents}
            obs, *_ = env.step(actions)
            reference, *_ = wrapped.step(actions)


def test_centralized_critic_sees_every_agent_and_ippo_its_own() -> None:
    env = ContextMatch()
    mappo, ippo = build(env), build(env, MAPPOConfig(centralized_value=False))
    obs, _ = env.reset(seed=0)
    central = mappo.critic_inputs(obs)
    # [o_0 (3), o_1 (5), one-hot agent (2)]
    np.testing.assert_array_equal(
        central["agent_1"], np.concatenate([obs["agent_0"], obs["agent_1"], [0.0, 1.0]])
    )
    alone = mappo.critic_inputs({"agent_1": obs["agent_1"]})["agent_1"]
    np.testing.assert_array_equal(alone[:3], np.zeros(3))  # an absent agent is zeros
    own = ippo.critic_inputs(obs)
    np.testing.assert_array_equal(own["agent_0"], ippo.actor_input("agent_0", obs["agent_0"]))
    assert mappo.critic_dims == [10] and ippo.critic_dims == [7]


def test_padded_discrete_actions_stay_legal_and_in_range() -> None:
    deterministic_torch(0)
    env = ContextMatch()
    group = build(env)
    obs, infos = env.reset(seed=0)
    masks = {a: infos[a].get("action_mask") for a in obs}
    seen = set()
    for _ in range(300):
        actions = group.explore(obs, masks)
        assert env.action_space("agent_0").contains(actions["agent_0"])
        assert int(actions["agent_1"]) in (0, 1, 2)  # 3 is masked out by the env
        seen.add(int(actions["agent_0"]))
    assert seen == {0, 1, 2}  # the padded 4th action of agent_0 never appears


def test_box_actions_of_different_dims_share_one_actor() -> None:
    deterministic_torch(0)
    env = ContextMatch(continuous=True)
    group = build(env)
    obs, _ = env.reset(seed=0)
    assert group.views[0].action_space.shape == (2,)
    for _ in range(50):
        actions = group.explore(obs, {a: None for a in obs})
        for agent, action in actions.items():
            assert env.action_space(agent).contains(action), (agent, action)
    pending = group._pending["agent_1"][2]  # one env copy: rows of one
    # agent_1's log-prob counts only its one real dim
    x = torch.as_tensor(pending[0])
    with torch.no_grad():
        dist = group.actors[0].distribution(x).base_dist
        expected = dist.log_prob(pending[2])[0, 0]
    assert float(pending[3][0]) == pytest.approx(float(expected), abs=1e-6)


# -- learning mechanics --------------------------------------------------------------------------


def test_gae_runs_per_agent_trajectory() -> None:
    """Two agents with different rewards over 3 steps: the advantages of the rollout batch are
    each agent's own GAE (no recursion across the agent boundary)."""
    deterministic_torch(0)
    env = ContextMatch()
    config = MAPPOConfig(rollout_steps=3, gamma=0.9, gae_lambda=0.8, value_normalization=False)
    group = build(env, config)
    obs, infos = env.reset(seed=0)
    masks = {a: infos[a].get("action_mask") for a in obs}
    rewards = {"agent_0": [1.0, 0.0, 2.0], "agent_1": [-1.0, 3.0, 0.5]}
    for t in range(3):
        actions = group.explore(obs, masks)
        group.observe({
            a: {"obs": obs[a], "action": actions[a], "reward": rewards[a][t], "cost": 0.0,
                "next_obs": obs[a], "terminated": t == 2, "truncated": False,
                "action_mask": masks[a], "next_action_mask": masks[a]}
            for a in obs
        })  # fmt: skip
    (batch,) = group.take_rollout()
    assert batch["agent_index"].tolist() == [0, 0, 0, 1, 1, 1]
    assert batch["end"].tolist() == [0, 0, 1, 0, 0, 1]
    advantages, _ = group.advantages(0, batch)
    with torch.no_grad():
        next_values = group.critics[0](batch["next_state"]).squeeze(-1)
    for rows in (slice(0, 3), slice(3, 6)):
        own, _ = gae(
            batch["reward"][rows], batch["value"][rows], next_values[rows],
            batch["terminated"][rows], batch["end"][rows], 0.9, 0.8,
        )  # fmt: skip
        torch.testing.assert_close(advantages[rows], own)


def test_state_dict_round_trip_gives_identical_actions() -> None:
    deterministic_torch(0)
    env = make_env("mpe/simple_spread_v3", **SPREAD)
    group = build(env)
    train(env, members(group), 100, seed=0)
    clone = build(env)
    clone.load_state_dict(group.state_dict())
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        assert group.act(obs, {a: None for a in obs}) == clone.act(obs, {a: None for a in obs})
    # one agent at a time (decentralised execution) gives the same actions
    single = {a: group.act({a: obs[a]}, {a: None})[a] for a in obs}
    assert single == group.act(obs, {a: None for a in obs})


def test_same_seed_same_weights() -> None:
    env = make_env("mpe/simple_spread_v3", **SPREAD)
    runs = []
    for _ in range(2):
        deterministic_torch(7)
        group = build(env)
        train(env, members(group), 110, seed=7)
        runs.append(weights(group))
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))
    deterministic_torch(8)
    other = build(env)
    train(env, members(other), 110, seed=8)
    assert not all(torch.equal(a, b) for a, b in zip(runs[0], weights(other), strict=True))


def test_stochastic_eval_is_reproducible_from_the_reset_seed() -> None:
    deterministic_torch(0)
    env = make_env("mpe/simple_spread_v3", **SPREAD)
    group = build(env, MAPPOConfig(stochastic_eval=True))
    obs, _ = env.reset(seed=0)

    def episode(seed: int) -> list[dict[str, Any]]:
        group.reset(seed)
        return [group.act(obs, {a: None for a in obs}) for _ in range(10)]

    assert episode(1) == episode(1)
    assert episode(1) != episode(2)


# -- learning ----------------------------------------------------------------------------------


@pytest.mark.parametrize("share", [True, False])
def test_learns_the_context_match_task(share: bool) -> None:
    deterministic_torch(0)
    env = ContextMatch()
    config = MAPPOConfig(
        rollout_steps=64, epochs=4, learning_rate=3e-3, critic_learning_rate=3e-3,
        hidden=(32,), share_parameters=share,
    )  # fmt: skip
    group = build(env, config)
    before, _ = evaluate(env, members(group), seed=5, episodes=100)
    train(env, members(group), 1500, seed=0)
    after, _ = evaluate(env, members(group), seed=5, episodes=100)
    # the team's reward is paid to both agents: 2 x (random 0.6, optimum 1.8)
    assert before < 2 * 0.8 and after > 2 * 1.5, (before, after)


# -- errors --------------------------------------------------------------------------------------


def test_wrong_spaces_raise_a_clear_value_error() -> None:
    box = spaces.Box(-1.0, 1.0, (2,), np.float32)
    with pytest.raises(ValueError, match="dicts"):
        MAPPO(box, spaces.Discrete(2))
    with pytest.raises(ValueError, match="Discrete or all"):
        MAPPO({"a": box, "b": box}, {"a": spaces.Discrete(2), "b": box})
    with pytest.raises(ValueError, match="Discrete or all|1-D Box"):
        MAPPO({"a": box}, {"a": spaces.MultiDiscrete([2, 2])})
    with pytest.raises(ValueError, match="finite"):
        MAPPO({"a": box}, {"a": spaces.Box(-np.inf, np.inf, (2,), np.float32)})
    with pytest.raises(ValueError, match="activation"):
        MAPPO({"a": box}, {"a": spaces.Discrete(2)}, MAPPOConfig(activation="gelu"))
