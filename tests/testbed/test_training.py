"""The training loop: budget, transitions, seeding, fixed partners, max_steps cuts."""

from __future__ import annotations

from typing import Any

import numpy as np

from testbed.registry import make_agent, make_env
from testbed.train.loop import evaluate, is_learner, train


class Recorder:
    """A learner that acts randomly and records everything it is given."""

    def __init__(self, action_space: Any):
        self.space = action_space
        self.transitions: list[dict[str, Any]] = []
        self.updates = 0
        self.seeds: list[int | None] = []

    def reset(self, seed: int | None = None) -> None:
        self.seeds.append(seed)
        self.rng = np.random.default_rng(seed)

    def act(self, observation: Any, action_mask: Any = None) -> Any:
        return 0

    def explore(self, observation: Any, action_mask: Any = None) -> Any:
        return int(self.rng.integers(self.space.n))

    def observe(self, transition: dict[str, Any]) -> None:
        self.transitions.append(transition)

    def update(self) -> dict[str, float]:
        self.updates += 1
        return {"updates": float(self.updates)}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def test_budget_counts_env_steps_and_every_transition_is_seen() -> None:
    env = make_env("gym/CartPole-v1")
    learner = Recorder(env.action_space("agent_0"))
    episodes = []
    state = train(
        env, {"agent_0": learner}, 300, seed=3, on_episode=lambda stats, _: episodes.append(stats)
    )
    assert is_learner(learner)
    assert state.step == 300 == len(learner.transitions) == learner.updates
    assert state.metrics["agent_0"]["updates"] == 300
    ends = [t for t in learner.transitions if t["terminated"] or t["truncated"]]
    assert len(ends) == len(episodes) == state.episodes >= 5
    assert sum(e.length for e in episodes) <= 300
    assert episodes[0].returns["agent_0"] == episodes[0].length  # CartPole: +1 per step
    first = learner.transitions[0]
    assert set(first) >= {"obs", "action", "reward", "cost", "next_obs", "terminated"}
    assert first["cost"] == 0.0 and first["action_mask"] is None


def test_same_seed_same_run_and_resumed_state_continues() -> None:
    def run(seed: int) -> list[Any]:
        env = make_env("gym/CartPole-v1")
        learner = Recorder(env.action_space("agent_0"))
        train(env, {"agent_0": learner}, 200, seed=seed)
        return [(t["action"], t["reward"], tuple(t["obs"])) for t in learner.transitions]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_fixed_partner_acts_and_max_steps_truncates() -> None:
    env = make_env("mpe/simple_spread_v3", N=2)
    learner = Recorder(env.action_space("agent_0"))
    partner = make_agent("noop", env.observation_space("agent_1"), env.action_space("agent_1"))
    state = train(env, {"agent_0": learner, "agent_1": partner}, 50, seed=0, max_steps=10)
    assert state.episodes == 5
    cuts = [i for i, t in enumerate(learner.transitions) if t["truncated"]]
    assert cuts == [9, 19, 29, 39, 49]
    mean_return, mean_cost = evaluate(env, {"agent_0": learner, "agent_1": partner}, 0, 2, 10)
    assert np.isfinite(mean_return) and mean_cost == 0.0
