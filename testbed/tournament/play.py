"""Playing one tournament game with fault isolation.

An entrant forfeits the game (and the game is recorded with the reason) when one of its
policies raises, returns an action outside its space or against the legal-action mask, or
takes longer than the per-move limit; a move that hangs is interrupted by a timer signal
(in the process's main thread, where games run). Errors of the env itself are not forfeits:
they fail the run.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from testbed.errors import BadInput, RunFailed
from testbed.joint import members
from testbed.rollout.build import build_env_or_fail, build_policy, match_pattern, ref_is_joint
from testbed.rollout.episode import run_episode
from testbed.rollout.recorded import encode_action
from testbed.rollout.team import PolicyTeam
from testbed.rollout.workers import clear_activity, report_activity
from testbed.scenario.document import Scenario
from testbed.tournament.schedule import Game, resolve_sides


class Forfeit(Exception):
    """An entrant lost the game by fault."""

    def __init__(self, entrant: str, reason: str):
        super().__init__(f"{entrant}: {reason}")
        self.entrant = entrant
        self.reason = reason


class _MoveTimeout(BaseException):
    """Raised by the timer inside a move that overran (BaseException: agents' `except
    Exception` blocks must not swallow it)."""


@dataclass
class GameResult:
    """A finished game: side scores (summed returns), per-agent returns, any forfeit; and,
    for the run folder's episodes.jsonl (not result.json or the database), every action
    played (`actions`, one {agent: action} per step, `encode_action`'s JSON form) and the
    episode record (returns, costs, length) that `testbed replay --game` checks against."""

    index: int
    round: int
    group: int
    entrants: list[str]
    seed: int
    scores: list[float]
    returns: dict[str, float]
    length: int
    forfeit_entrant: str | None
    forfeit_reason: str | None
    seconds: float
    actions: list[dict[str, Any]] | None = field(default=None, repr=False)
    episode: dict[str, Any] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The game as result.json lists it (without its actions and episode record)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init and f.name
                not in ("actions", "episode")}  # fmt: skip

    def log_entry(self, stage: str) -> dict[str, Any]:
        """The game's line of episodes.jsonl: an episode record (subject `game`, numbered by
        the game's index) with the entrants, scores, forfeit and actions."""
        episode = self.episode or {"seed": self.seed, "length": self.length, "agents": {}}
        return {
            "stage": stage,
            "subject": "game",
            "episode": self.index,
            **episode,
            "entrants": list(self.entrants),
            "scores": list(self.scores),
            "round": self.round,
            "forfeit_entrant": self.forfeit_entrant,
            "forfeit_reason": self.forfeit_reason,
            "actions": self.actions or [],
        }


def _legal(space: Any, action: Any, mask: np.ndarray | None) -> str | None:
    """Why `action` is illegal, or None."""
    try:
        inside = space.contains(action)
    except Exception:  # e.g. wrong shape or type
        inside = False
    if not inside:
        return f"illegal action {action!r}: not in {space}"
    if mask is not None and np.ndim(action) == 0:
        offset = int(getattr(space, "start", 0))
        if not mask[int(action) - offset]:
            return f"illegal action {int(action)}: masked out"
    return None


class GuardedPolicy:
    """A policy whose faults become a Forfeit of its entrant."""

    def __init__(
        self, policy: Any, entrant: str, agent: str, space: Any, move_timeout: float | None
    ):
        self.policy = policy
        self.entrant = entrant
        self.agent = agent
        self.space = space
        self.move_timeout = move_timeout
        self._can_interrupt = threading.current_thread() is threading.main_thread()

    def _guarded(self, what: str, call: Any, *args: Any) -> Any:
        timer = self.move_timeout is not None and self._can_interrupt
        if timer:
            previous = signal.signal(signal.SIGALRM, _raise_timeout)
            signal.setitimer(signal.ITIMER_REAL, self.move_timeout)
        report_activity(
            {"entrant": self.entrant, "agent": self.agent, "what": f"{self.agent} {what}"},
            self.move_timeout,
        )
        started = time.perf_counter()
        try:
            result = call(*args)
        except _MoveTimeout:
            raise Forfeit(
                self.entrant,
                f"{self.agent} exceeded the per-move limit of {self.move_timeout:g} s in {what}",
            ) from None
        except SystemExit as exc:
            raise Forfeit(
                self.entrant, f"{self.agent} called sys.exit({exc.code}) in {what}"
            ) from None
        except Exception as exc:
            raise Forfeit(
                self.entrant, f"{self.agent} raised in {what}: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            clear_activity()
            if timer:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
        took = time.perf_counter() - started
        if self.move_timeout is not None and took > self.move_timeout:
            raise Forfeit(
                self.entrant,
                f"{self.agent} took {took:.2f} s in {what}, over the "
                f"per-move limit of {self.move_timeout:g} s",
            )
        return result

    def reset(self, seed: int | None = None) -> None:
        self._guarded("reset", self.policy.reset, seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        action = self._guarded("act", self.policy.act, observation, action_mask)
        problem = _legal(self.space, action, action_mask)
        if problem is not None:
            raise Forfeit(self.entrant, f"{self.agent}: {problem}")
        return action


def forfeit_result(
    game: Game,
    entrant: str,
    reason: str,
    seconds: float = 0.0,
    actions: list[dict[str, Any]] | None = None,
) -> GameResult:
    """A game `entrant` lost by fault: it scores 0, every other entrant 1 (`actions`: the
    moves played before the fault, when known)."""
    scores = [0.0 if e == entrant else 1.0 for e in game.entrants]
    return GameResult(
        game.index, game.round, game.group, list(game.entrants), game.seed, scores, {}, 0,
        entrant, reason, seconds, actions,
    )  # fmt: skip


def _raise_timeout(signum: int, frame: Any) -> None:
    raise _MoveTimeout()


class GameRunner:
    """Holds a stage's env and every entrant's policies; plays scheduled games."""

    def __init__(self, scenario: Scenario, index: int):
        self.scenario = scenario
        self.index = index
        self.stage = scenario.stages[index]
        where = scenario.where("stages", index, "sides")
        self.env = build_env_or_fail(scenario, index)
        self.agents = list(self.env.possible_agents)
        self.sides = resolve_sides(self.agents, self.stage.sides, where=where)
        self.side_of = {a: i for i, members in enumerate(self.sides.values()) for a in members}
        self._policies: dict[tuple[str, str], GuardedPolicy] = {}
        self._groups: dict[tuple[Any, ...], dict[str, Any]] = {}

    def policy(self, entrant: str, agent: str) -> GuardedPolicy:
        """The entrant's (cached) policy for one env agent."""
        key = (entrant, agent)
        if key not in self._policies:
            ref = self.stage.entrants[entrant]
            loc: tuple[Any, ...] = ("stages", self.index, "entrants", entrant)
            fills = self.agents  # the env agents this ref plays (a team member: its pattern's)
            if ref.agents is not None:
                pattern = match_pattern(ref.agents, agent)
                if pattern is None:
                    raise BadInput(
                        f"team entrant {entrant!r} has no agent for env agent {agent!r}",
                        where=self.scenario.where(*loc, "agents"),
                        hint=f"add a pattern matching {agent!r} to its `agents`",
                    )
                fills = [a for a in self.agents if match_pattern(ref.agents, a) == pattern]
                ref, loc = ref.agents[pattern], (*loc, "agents", pattern)
            where = self.scenario.where(*loc)
            if ref_is_joint(self.scenario, ref, where=where):
                policy = self._group(loc, ref, fills, where).get(agent)
            else:
                policy = build_policy(
                    self.scenario,
                    ref,
                    self.env.observation_space(agent),
                    self.env.action_space(agent),
                    where=where,
                )
            self._policies[key] = GuardedPolicy(
                policy, entrant, agent, self.env.action_space(agent), self.stage.move_timeout
            )
        return self._policies[key]

    def _group(self, loc: tuple[Any, ...], ref: Any, fills: list[str], where: str | None) -> Any:
        """The Members of the joint policy that plays the agents `fills` (built once)."""
        if loc not in self._groups:
            group = build_policy(
                self.scenario,
                ref,
                {a: self.env.observation_space(a) for a in fills},
                {a: self.env.action_space(a) for a in fills},
                where=where,
            )
            self._groups[loc] = members(group)
        return self._groups[loc]

    def check_entrants(self) -> None:
        """Build every entrant for every side it can play, so bad input fails before play."""
        for entrant in self.stage.entrants:
            for agent in self.agents:
                self.policy(entrant, agent)

    def run(self, game: Game) -> GameResult:
        team = PolicyTeam({a: self.policy(game.entrants[self.side_of[a]], a) for a in self.agents})
        started = time.perf_counter()
        forfeit: Forfeit | None = None
        actions: list[dict[str, Any]] = []

        def keep(step: int, joint: dict[str, Any], *_: Any) -> None:
            actions.append({agent: encode_action(a) for agent, a in joint.items()})

        try:
            record = run_episode(self.env, team, game.seed, self.stage.max_steps, on_step=keep)
        except Forfeit as exc:
            forfeit = exc
        except Exception as exc:
            raise RunFailed(
                f"game {game.index} ({' vs '.join(game.entrants)}, seed "
                f"{game.seed}): the env failed: {type(exc).__name__}: {exc}"
            ) from exc
        seconds = time.perf_counter() - started
        if forfeit is not None:
            return forfeit_result(game, forfeit.entrant, forfeit.reason, seconds, actions)
        returns = {a: r.ret for a, r in record.agents.items()}
        scores = [0.0] * len(self.sides)
        for agent, ret in returns.items():
            scores[self.side_of[agent]] += ret
        entrants = list(game.entrants)
        return GameResult(
            game.index, game.round, game.group, entrants, game.seed, scores, returns,
            record.length, None, None, seconds, actions, record.to_dict(),
        )  # fmt: skip

    def close(self) -> None:
        try:
            self.env.close()
        except Exception:
            pass
