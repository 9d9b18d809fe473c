"""Training in turn-based (AEC) envs: exact transition bookkeeping on a tiny scripted game,
masks, terminal flags, max_steps cuts, budget cuts, and a real game (Breakthrough)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo import AECEnv

from testbed.registry import make_agent, make_env
from testbed.train.turns import train_turns

MASK = np.array([1, 1, 0], dtype=np.int8)  # action 2 is never legal


class TinyTurns(AECEnv):
    """Four plies, player_0 first. The mover of action a gets a, the other player 10 (a + 1);
    at the end player_0 gets +100 and player_1 -100 more. Every step, each player's info
    cost is the ply number. Observation: (ply, player index), mask [1, 1, 0] on turn."""

    metadata = {"name": "tiny_turns_v0", "is_parallelizable": False}

    def __init__(self, plies: int = 4):
        super().__init__()
        self.plies = plies
        self.possible_agents = ["player_0", "player_1"]
        self._obs_space = spaces.Dict(
            {
                "observation": spaces.Box(0, 100, (2,), dtype=np.float32),
                "action_mask": spaces.Box(0, 1, (3,), dtype=np.int8),
            }
        )
        self._act_space = spaces.Discrete(3)

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_space

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        on_turn = agent == self.agent_selection and not self.terminations[agent]
        return {
            "observation": np.array([self.ply, self.possible_agents.index(agent)], np.float32),
            "action_mask": MASK.copy() if on_turn else np.zeros(3, np.int8),
        }

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self.ply = 0
        self.agents = self.possible_agents[:]
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos = {a: {"cost": 0.0} for a in self.agents}
        self.agent_selection = "player_0"

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        assert MASK[int(action)], "an illegal action was played"
        other = "player_1" if agent == "player_0" else "player_0"
        self._cumulative_rewards[agent] = 0.0
        self.ply += 1
        self.rewards = {agent: float(action), other: 10.0 * (int(action) + 1)}
        self.infos = {a: {"cost": float(self.ply)} for a in self.agents}
        if self.ply == self.plies:
            self.rewards["player_0"] += 100.0
            self.rewards["player_1"] -= 100.0
            self.terminations = {a: True for a in self.agents}
        self.agent_selection = other
        self._accumulate_rewards()


class Scripted:
    """A learner that plays a fixed sequence of actions and records what it is given."""

    def __init__(self, actions: list[int]):
        self.actions = actions
        self.transitions: list[dict[str, Any]] = []
        self.seeds: list[int | None] = []
        self.moves = 0

    def reset(self, seed: int | None = None) -> None:
        self.seeds.append(seed)
        self.rng = np.random.default_rng(seed)

    def act(self, observation: Any, action_mask: Any = None) -> Any:
        return np.int64(0)

    def explore(self, observation: Any, action_mask: Any = None) -> Any:
        if not self.actions:  # random legal move
            return np.int64(self.rng.choice(np.flatnonzero(action_mask)))
        action = self.actions[self.moves % len(self.actions)]
        self.moves += 1
        return np.int64(action)

    def observe(self, transition: dict[str, Any]) -> None:
        self.transitions.append(transition)

    def update(self) -> dict[str, float]:
        return {"seen": float(len(self.transitions))}

    def state_dict(self) -> dict[str, Any]:
        return {"seen": len(self.transitions)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def _summary(t: dict[str, Any]) -> tuple:
    return (
        tuple(t["obs"]["observation"]),
        int(t["action"]),
        t["reward"],
        t["cost"],
        tuple(t["next_obs"]["observation"]),
        t["terminated"],
        t["truncated"],
    )


def test_each_learner_gets_its_turn_to_turn_transitions_with_the_rewards_in_between() -> None:
    env = TinyTurns()
    first, second = Scripted([1, 0]), Scripted([0, 1])  # a0=1, a1=0; b0=0, b1=1
    episodes = []
    state = train_turns(
        env,
        {"player_0": first, "player_1": second},
        4,
        seed=0,
        on_episode=lambda stats, _: episodes.append(stats),
    )
    assert state.step == 4 and state.episodes == 1
    # player_0: a0 + 10 (b0 + 1) until its 2nd turn; then a1 + 10 (b1 + 1) + 100, terminal.
    assert [_summary(t) for t in first.transitions] == [
        ((0, 0), 1, 1.0 + 10.0, 2.0, (2, 0), False, False),
        ((2, 0), 0, 0.0 + 20.0 + 100.0, 4.0, (4, 0), True, False),
    ]
    # player_1: the 10 (a0 + 1) it got before its first move belongs to no transition.
    assert [_summary(t) for t in second.transitions] == [
        ((1, 1), 0, 0.0 + 10.0, 3.0, (3, 1), False, False),
        ((3, 1), 1, 1.0 - 100.0, 4.0, (4, 1), True, False),
    ]
    for t in first.transitions + second.transitions:
        assert t["action_mask"].tolist() == [1, 1, 0]
    assert first.transitions[0]["next_action_mask"].tolist() == [1, 1, 0]
    assert first.transitions[-1]["next_action_mask"].tolist() == [0, 0, 0]  # game over
    (stats,) = episodes
    assert stats.length == 4 and stats.end_step == 4
    assert stats.returns == {"player_0": 1 + 10 + 20 + 100.0, "player_1": 20 + 10 + 1 - 100.0}
    assert stats.costs == {"player_0": 2.0 + 4.0, "player_1": 1.0 + 3.0 + 4.0}
    assert state.metrics == {"player_0": {"seen": 2.0}, "player_1": {"seen": 2.0}}


def test_max_steps_cut_truncates_every_open_transition() -> None:
    env = TinyTurns(plies=10)
    first, second = Scripted([1, 0]), Scripted([0, 1])
    state = train_turns(env, {"player_0": first, "player_1": second}, 3, seed=0, max_steps=3)
    assert state.step == 3 and state.episodes == 1  # a cut episode is a finished one
    # Cut with player_1 on turn after ply 3 (player_0 played a1 = 0).
    assert _summary(second.transitions[-1]) == ((1, 1), 0, 0.0 + 10.0, 3.0, (3, 1), False, True)
    # player_0's open transition gets what the env accumulated for it since its move: a1.
    assert _summary(first.transitions[-1]) == ((2, 0), 0, 0.0, 3.0, (3, 0), False, True)
    assert first.transitions[-1]["next_action_mask"].tolist() == [0, 0, 0]  # not its turn


def test_budget_cut_abandons_the_episode_and_fixed_opponents_only_act() -> None:
    env = TinyTurns()
    learner = Scripted([1])
    opponent = make_agent("noop", env.observation_space("player_1"), env.action_space("player_1"))
    episodes = []
    state = train_turns(
        env,
        {"player_0": learner, "player_1": opponent},
        6,
        seed=0,
        on_episode=lambda stats, _: episodes.append(stats),
    )
    assert state.step == 6 and state.episodes == 1 and len(episodes) == 1
    # Episode 1: 2 transitions; episode 2 (abandoned after plies 5-6): 1 closed transition.
    assert len(learner.transitions) == 3
    assert [t["terminated"] for t in learner.transitions] == [False, True, False]
    assert learner.transitions[-1]["reward"] == 1.0 + 10.0  # noop plays action 0
    assert set(state.metrics) == {"player_0"}


def test_breakthrough_self_consistent_transitions_and_determinism() -> None:
    def run(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any]:
        env = make_env("testbed/breakthrough_v0", rows=4, cols=3, piece_rows=1)
        first, second = Scripted([]), Scripted([])
        episodes = []
        state = train_turns(
            env,
            {"player_0": first, "player_1": second},
            120,
            seed=seed,
            on_episode=lambda stats, _: episodes.append(stats),
        )
        return first.transitions, second.transitions, (state, episodes)

    first, second, (state, episodes) = run(3)
    assert state.step == 120 and state.episodes == len(episodes) >= 5
    for transitions in (first, second):
        for before, after in zip(transitions, transitions[1:], strict=False):
            if not before["terminated"]:
                assert after["obs"] is before["next_obs"]  # a chain of the player's own turns
        for t in transitions:
            assert t["action_mask"][int(t["action"])] == 1  # masks were passed and honoured
            if not t["terminated"]:
                assert t["reward"] == 0.0  # Breakthrough pays only at the end
            assert t["next_action_mask"].any() != t["terminated"]
    finals = [
        (a["reward"], b["reward"])
        for a, b in zip(
            [t for t in first if t["terminated"]], [t for t in second if t["terminated"]],
            strict=True,
        )
    ]  # fmt: skip
    assert len(finals) == state.episodes
    assert all(sorted(pair) == [-1.0, 1.0] for pair in finals)  # zero-sum, no draws
    assert [e.returns["player_0"] for e in episodes] == [f[0] for f in finals]
    again = run(3)
    assert [_summary_bt(t) for t in again[0]] == [_summary_bt(t) for t in first]
    assert [_summary_bt(t) for t in run(4)[0]] != [_summary_bt(t) for t in first]


def _summary_bt(t: dict[str, Any]) -> tuple:
    return (t["obs"]["observation"].tobytes(), int(t["action"]), t["reward"], t["terminated"])


def test_parallel_env_is_refused() -> None:
    env = make_env("gym/CartPole-v1")
    with pytest.raises(TypeError, match="turn-based"):
        train_turns(env, {}, 10, seed=0)
