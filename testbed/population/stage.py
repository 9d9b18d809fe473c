"""`kind: population`: the Melting Pot protocol (Leibo et al. 2021, Agapiou et al. 2022).

A focal population (checkpoints, learners' snapshots, scripted agents) is tested by playing
with a background population of bots it never trained with, in named scenarios: resident
(the focal population is the majority, one or a few background bots join) and visitor (one
or a few focal players join a group of bots). In each episode the focal seats are drawn at
random among the focal-eligible env agents, each focal seat gets a member of the population
drawn uniformly, and each other seat a bot drawn from the scenario's background list.

What is reported, per scenario and population, over `episodes` seeds:
- the focal per-capita return (mean over focal seats), with a t-interval over episodes;
- the background per-capita return: does the focal population make things better or worse
  for the others?
- the normalised score (focal - zero) / (one - zero) between two named reference populations
  (e.g. random = 0, the bots themselves = 1), with a paired bootstrap interval: every
  population plays the same seeds, seat draws and background bots (common random numbers).

Episodes are tasks keyed by (population, scenario, episode), so results do not depend on the
number of workers. Members must be per-agent policies (a joint learner's checkpoint acts for
a whole group and is refused).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from testbed.context import StageContext, StageResult
from testbed.errors import BadInput, RunFailed
from testbed.evaluate.stats import summarize
from testbed.population.spec import PopulationScenario, PopulationStage
from testbed.rollout.build import build_env_or_fail, build_policy, match_pattern, ref_is_joint
from testbed.rollout.episode import run_episode
from testbed.rollout.team import PolicyTeam
from testbed.rollout.workers import WorkerDied
from testbed.scenario.document import Scenario
from testbed.seeding import EpisodeSeeds

BOOTSTRAP = 2000


def seat_counts(stage: PopulationStage, eligible: int) -> dict[str, int]:
    """Focal seats of every scenario, checked against the focal-eligible agents."""
    counts = {}
    for name, scenario in stage.scenarios.items():
        if scenario.mode == "resident":
            k = eligible - (scenario.background_seats or 1)
        else:
            k = scenario.focal_seats or 1
        if not 1 <= k <= eligible:
            raise ValueError(
                f"scenario {name!r} ({scenario.mode}) gives the focal population {k} of "
                f"{eligible} focal-eligible seats; it needs 1 to {eligible}"
            )
        counts[name] = k
    return counts


class PopulationRunner:
    """Holds the env and every member's policies; plays one episode per task."""

    def __init__(self, scenario: Scenario, index: int):
        self.scenario, self.index = scenario, index
        self.stage: PopulationStage = scenario.stages[index]
        self.env = build_env_or_fail(scenario, index)
        self.agents = list(self.env.possible_agents)
        patterns = dict.fromkeys(self.stage.focal_agents)
        self.eligible = [a for a in self.agents if match_pattern(patterns, a) is not None]
        where = scenario.where("stages", index, "focal_agents")
        if not self.eligible:
            raise BadInput(
                f"no env agent matches focal_agents {self.stage.focal_agents}; the env has "
                f"{', '.join(self.agents)}",
                where=where,
            )
        try:
            self.seats = seat_counts(self.stage, len(self.eligible))
        except ValueError as exc:
            raise BadInput(str(exc), where=scenario.where("stages", index, "scenarios")) from None
        self._policies: dict[tuple[str, str, str], Any] = {}

    def policy(self, group: str, member: str, agent: str) -> Any:
        """The (cached) policy of `member` of population `group` (or `background`) for `agent`."""
        key = (group, member, agent)
        if key not in self._policies:
            if group == "background":
                ref, loc = self.stage.background[member], ("background", member)
            else:
                ref = self.stage.populations()[group][member]
                loc = ("focal", member) if group == "focal" else ("references", group, member)
            loc = ("stages", self.index, *loc)
            if ref.agents is not None:
                pattern = match_pattern(ref.agents, agent)
                if pattern is None:
                    raise BadInput(
                        f"{member!r} has no agent for env agent {agent!r}",
                        where=self.scenario.where(*loc, "agents"),
                        hint=f"add a pattern matching {agent!r} to its `agents`",
                    )
                ref, loc = ref.agents[pattern], (*loc, "agents", pattern)
            where = self.scenario.where(*loc)
            if ref_is_joint(self.scenario, ref, where=where):
                raise BadInput(
                    f"{member!r} is a joint (multi-agent) learner; population members must be "
                    "per-agent policies (a joint policy acts for its whole group)",
                    where=where,
                )
            self._policies[key] = build_policy(
                self.scenario,
                ref,
                self.env.observation_space(agent),
                self.env.action_space(agent),
                where=where,
            )
        return self._policies[key]

    def check(self) -> None:
        """Build every member for every seat it can take, so bad input fails before play."""
        for group, population in self.stage.populations().items():
            for member in population:
                for agent in self.eligible:
                    self.policy(group, member, agent)
        for member in self.stage.background:
            for agent in self.agents:
                self.policy("background", member, agent)

    def layout(self, name: str, seed: int, members: int) -> tuple[dict[str, str], list[int]]:
        """({agent: background bot} for non-focal seats, member index per focal seat), drawn
        from the episode seed alone, so every population meets the same seats and bots."""
        scenario: PopulationScenario = self.stage.scenarios[name]
        rng = np.random.default_rng([seed, 17])
        focal = sorted(rng.choice(len(self.eligible), self.seats[name], replace=False))
        focal_agents = [self.eligible[i] for i in focal]
        bots = scenario.background or list(self.stage.background)
        background = {
            a: bots[int(rng.integers(len(bots)))] for a in self.agents if a not in focal_agents
        }
        picks = np.random.default_rng([seed, 23]).integers(members, size=len(focal_agents))
        return background, [int(p) for p in picks]

    def run(self, group: str, name: str, number: int, seed: int) -> dict[str, Any]:
        population = list(self.stage.populations()[group])
        background, picks = self.layout(name, seed, len(population))
        focal = [a for a in self.agents if a not in background]
        members = {a: population[p] for a, p in zip(focal, picks, strict=True)}
        policies = {a: self.policy(group, members[a], a) for a in focal}
        policies.update({a: self.policy("background", b, a) for a, b in background.items()})
        try:
            record = run_episode(self.env, PolicyTeam(policies), seed, self.stage.max_steps)
        except Exception as exc:
            raise RunFailed(
                f"population {group!r}, scenario {name!r}, episode {number} (seed {seed}) "
                f"failed: {type(exc).__name__}: {exc}"
            ) from exc
        returns = {a: r.ret for a, r in record.agents.items()}
        return {
            "focal": float(np.mean([returns[a] for a in focal])),
            "background": float(np.mean([returns[a] for a in background])) if background else None,
            "members": members,
            "bots": background,
            "length": record.length,
        }

    def close(self) -> None:
        try:
            self.env.close()
        except Exception:
            pass


@dataclass
class PopulationResult(StageResult):
    """Per scenario and population: focal and background per-capita returns, normalised
    score; `episodes_log` keeps every episode's per-capita returns and seat draws."""

    kind: ClassVar[str] = "population"

    seed: int = 0
    episodes: int = 0
    scenarios: dict[str, Any] = field(default_factory=dict)
    populations: dict[str, list[str]] = field(default_factory=dict)
    background: list[str] = field(default_factory=list)
    normalise: dict[str, str] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    wall_time_s: float = 0.0
    episodes_log: list[dict[str, Any]] = field(default_factory=list)


def check_population(scenario: Scenario, index: int) -> dict[str, int]:
    """Build the env and every member, playing nothing; {scenario: focal seats}."""
    runner = PopulationRunner(scenario, index)
    try:
        runner.check()
        return dict(runner.seats)
    finally:
        runner.close()


def _score(focal: np.ndarray, zero: np.ndarray, one: np.ndarray, seed: int) -> dict[str, Any]:
    """(mean focal - mean zero) / (mean one - mean zero), paired bootstrap over episodes."""
    span = one.mean() - zero.mean()
    if abs(span) < 1e-9:
        return {"value": None, "ci_low": None, "ci_high": None, "note": "references tie"}
    rng = np.random.default_rng(seed)
    idx = rng.integers(len(focal), size=(BOOTSTRAP, len(focal)))
    spans = one[idx].mean(1) - zero[idx].mean(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = (focal[idx].mean(1) - zero[idx].mean(1)) / spans
    boot = boot[np.isfinite(boot)]
    low, high = np.quantile(boot, [0.025, 0.975])
    value = (focal.mean() - zero.mean()) / span
    return {"value": float(value), "ci_low": float(low), "ci_high": float(high)}


def run_population(
    scenario: Scenario, index: int, executor: Any, on_done: Any = None
) -> PopulationResult:
    """Play every (population, scenario, episode) task and summarise."""
    stage: PopulationStage = scenario.stages[index]
    seats = check_population(scenario, index)
    root = scenario.stage_seed(index)
    tasks = [
        (
            group,
            name,
            e,
            EpisodeSeeds(root, stage.episodes, f"{scenario.seed_stream(index)}/{name}")[e],
        )
        for group in stage.populations()
        for name in stage.scenarios
        for e in range(stage.episodes)
    ]
    outcomes: dict[int, dict[str, Any]] = {}
    started = time.perf_counter()
    for position, outcome in executor.imap_tasks(PopulationRunner, (scenario, index), tasks):
        if isinstance(outcome, WorkerDied):
            group, name, e, seed = tasks[position]
            raise RunFailed(
                f"population {group!r}, scenario {name!r}, episode {e}: {outcome.reason}"
            )
        outcomes[position] = outcome
        if on_done is not None:
            on_done(len(outcomes), len(tasks))
    log = [
        {"population": t[0], "scenario": t[1], "episode": t[2], "seed": t[3], **outcomes[i]}
        for i, t in enumerate(tasks)
    ]
    focal = {
        (g, n): np.array([r["focal"] for r in log if r["population"] == g and r["scenario"] == n])
        for g in stage.populations()
        for n in stage.scenarios
    }
    rows = []
    for name, spec in stage.scenarios.items():
        for group in stage.populations():
            background = [
                r["background"]
                for r in log
                if r["population"] == group
                and r["scenario"] == name
                and r["background"] is not None
            ]
            row: dict[str, Any] = {
                "scenario": name,
                "mode": spec.mode,
                "population": group,
                "focal_seats": seats[name],
                "focal": summarize(focal[group, name]).to_dict(),
                "background": summarize(background).to_dict() if background else None,
            }
            if stage.normalise is not None:
                zero = focal[stage.normalise.zero, name]
                best = max(stage.normalise.ones(), key=lambda g: focal[g, name].mean())
                row["score"] = {
                    **_score(focal[group, name], zero, focal[best, name], root),
                    "one": best,
                }
            rows.append(row)
    return PopulationResult(
        name=scenario.stage_name(index),
        env={"id": stage.env.id, "params": stage.env.params},
        seed=root,
        episodes=stage.episodes,
        scenarios={
            n: {**s.model_dump(), "focal_seats": seats[n]} for n, s in stage.scenarios.items()
        },
        populations={g: list(p) for g, p in stage.populations().items()},
        background=list(stage.background),
        normalise=stage.normalise.model_dump() if stage.normalise else None,
        rows=rows,
        wall_time_s=time.perf_counter() - started,
        episodes_log=log,
    )


def _specs(stage: PopulationStage, seats: dict[str, int]) -> list[tuple[str, Any]]:
    return [(n, (s, seats[n])) for n, s in stage.scenarios.items()]


def run_population_stage(context: StageContext) -> PopulationResult:
    """The table's entry: `run_population` with a progress bar of episodes."""
    context.progress.start(f"population {context.name}")

    def on_done(done: int, total: int) -> None:
        context.progress.update(completed=done, total=total)

    assert context.executor is not None
    return run_population(context.scenario, context.index, context.executor, on_done)
