"""Self-play for two-player turn-based games: one learner against a pool of its own snapshots.

The engine (`SelfPlay`) trains any learner with masked discrete actions (ppo, dqn, ...) in a
two-player AEC env. Every `snapshot_every` plies it freezes a snapshot (a deep copy of the
learner's `state_dict`); the newest `pool_size` snapshots form the opponent pool. At each
episode the opponent is the newest snapshot with probability `latest_prob`, else one of the
older pooled ones uniformly (the OpenAI Five scheme, Berner et al. 2019, "Dota 2 with Large
Scale Deep Reinforcement Learning", arXiv:1912.06680, sec. 3.3: 80 % latest, 20 % past; also
Unity ML-Agents' `play_against_latest_model_ratio` and `window`; Bansal et al. 2018,
"Emergent Complexity via Multi-Agent Competition", on why sampling past opponents helps).
Seats alternate each episode; the learner only learns from its own seat's transitions
(`testbed.train.turns`); the opponent is a frozen copy reloaded from its snapshot at the
start of every episode, so nothing it does while playing changes it.

`kind: train` with `self_play:` (testbed/train/selfplay_stage.py) runs this engine, saves the
snapshots as checkpoints and rates them in a leaderboard tournament.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from testbed.seeding import stream_seed
from testbed.train.loop import evaluate
from testbed.train.state import EpisodeStats, StepHook, TrainState, is_learner
from testbed.train.turns import play_training_episode

SnapshotHook = Callable[[int, Any], None]


@dataclass
class SelfPlayEpisode(EpisodeStats):
    """A finished self-play episode: which seat the learner had, which snapshot it faced."""

    learner_seat: str = ""
    opponent_step: int = 0

    @property
    def learner_return(self) -> float:
        return self.returns.get(self.learner_seat, 0.0)


SelfPlayEpisodeHook = Callable[[SelfPlayEpisode, TrainState], None]


class SnapshotPool:
    """The newest `size` frozen snapshots (step, state_dict) of a learner."""

    def __init__(self, size: int, latest_prob: float):
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        if not 0.0 <= latest_prob <= 1.0:
            raise ValueError(f"latest_prob must be in [0, 1], got {latest_prob}")
        self.latest_prob = latest_prob
        self.entries: deque[tuple[int, dict[str, Any]]] = deque(maxlen=size)

    def add(self, step: int, state: dict[str, Any]) -> None:
        """Freeze `state` (deep-copied: later training does not reach it)."""
        self.entries.append((step, copy.deepcopy(state)))

    @property
    def steps(self) -> list[int]:
        return [step for step, _ in self.entries]

    def draw(self, rng: np.random.Generator) -> tuple[int, dict[str, Any]]:
        """The newest snapshot with probability `latest_prob`, else an older one uniformly."""
        if not self.entries:
            raise ValueError("the snapshot pool is empty")
        older = len(self.entries) - 1
        if older == 0 or rng.random() < self.latest_prob:
            return self.entries[-1]
        return self.entries[int(rng.integers(older))]


class FrozenOpponent:
    """A snapshot filling the opponent's seat; not a learner (no observe/update)."""

    def __init__(self, shell: Any, sample: bool):
        self.shell = shell
        self.sample = sample

    def reset(self, seed: int | None = None) -> None:
        self.shell.reset(seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        return (self.shell.explore if self.sample else self.shell.act)(observation, action_mask)


@dataclass
class SelfPlay:
    """Self-play training of `learner` in a two-player AEC `env` (see the module docstring)."""

    env: Any
    learner: Any
    snapshot_every: int
    pool_size: int = 10
    latest_prob: float = 0.8
    opponent_policy: str = "explore"
    pool: SnapshotPool = field(init=False)
    faced: dict[int, int] = field(init=False, default_factory=dict)
    """Episodes played against each snapshot (by its step)."""

    def __post_init__(self) -> None:
        if not hasattr(self.env, "agent_iter") or len(self.env.possible_agents) != 2:
            raise ValueError("self-play needs a two-player turn-based (AEC) env")
        if not is_learner(self.learner):
            raise ValueError("self-play needs a learner (explore / observe / update)")
        if self.snapshot_every < 1:
            raise ValueError(f"snapshot_every must be >= 1, got {self.snapshot_every}")
        if self.opponent_policy not in ("explore", "act"):
            raise ValueError(f"opponent_policy must be explore or act: {self.opponent_policy!r}")
        self.pool = SnapshotPool(self.pool_size, self.latest_prob)
        # One frozen copy plays every snapshot: its weights are reloaded each episode.
        self.opponent = FrozenOpponent(
            copy.deepcopy(self.learner), sample=self.opponent_policy == "explore"
        )

    def snapshot(self, step: int, on_snapshot: SnapshotHook | None = None) -> None:
        self.pool.add(step, self.learner.state_dict())
        if on_snapshot is not None:
            on_snapshot(step, self.learner)

    def run(
        self,
        total_steps: int,
        seed: int,
        *,
        state: TrainState | None = None,
        max_steps: int | None = None,
        on_step: StepHook | None = None,
        on_episode: SelfPlayEpisodeHook | None = None,
        on_snapshot: SnapshotHook | None = None,
    ) -> TrainState:
        """Train until `state.step == total_steps` plies; the last snapshot is the final one."""
        state = state or TrainState()
        agents = list(self.env.possible_agents)
        if not self.pool.entries:
            self.snapshot(state.step, on_snapshot)

        def step_hook(s: TrainState) -> None:
            if s.step % self.snapshot_every == 0 and s.step < total_steps:
                self.snapshot(s.step, on_snapshot)
            if on_step is not None:
                on_step(s)

        while state.step < total_steps:
            k = state.episodes
            seat = agents[k % 2]
            opponent_step, weights = self.pool.draw(
                np.random.default_rng(stream_seed(seed, "opponent", k))
            )
            self.opponent.shell.load_state_dict(weights)
            policies = {a: self.learner if a == seat else self.opponent for a in agents}
            stats = play_training_episode(
                self.env,
                policies,
                stream_seed(seed, "train", k),
                state,
                total_steps,
                max_steps=max_steps,
                on_step=step_hook,
            )
            if stats is None:
                break
            self.faced[opponent_step] = self.faced.get(opponent_step, 0) + 1
            state.episodes += 1
            if on_episode is not None:
                on_episode(SelfPlayEpisode(**vars(stats), learner_seat=seat,
                                           opponent_step=opponent_step), state)  # fmt: skip
        if self.pool.steps[-1] != state.step:
            self.snapshot(state.step, on_snapshot)
        return state


def evaluate_both_seats(
    env: Any, learner: Any, opponents: dict[str, Any], seed: int, episodes: int,
    max_steps: int | None = None,
) -> tuple[float, float]:  # fmt: skip
    """The learner's (`act`) mean return and cost against fixed opponents (one per seat, the
    seat they fill), half of the episodes in each seat."""
    agents = list(env.possible_agents)
    total_return = total_cost = 0.0
    for index, seat in enumerate(agents):
        count = math.ceil(episodes / 2) if index == 0 else episodes // 2
        if count == 0:
            continue
        policies = {a: learner if a == seat else opponents[a] for a in agents}
        ret, cost = evaluate(
            env, policies, stream_seed(seed, "seat", index), count, max_steps, [seat]
        )
        total_return += ret * count
        total_cost += cost * count
    return total_return / episodes, total_cost / episodes


__all__ = [
    "FrozenOpponent",
    "SelfPlay",
    "SelfPlayEpisode",
    "SnapshotPool",
    "evaluate_both_seats",
]
