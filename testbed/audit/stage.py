"""`kind: audit`: run episodes until every constraint has a verdict, or `max` episodes.

Each constraint of the scenario reads one cost stream (the total or a named component; the
team's sum, one agent's, or each agent's separately) and carries one or more limits; each
(stream, limit) pair is one check of `testbed.audit.sequential`. The run stops at the first
episode count (anytime-valid tests) or look (`sequential: looks`) where every check is
decided; the statistics, and why stopping early stays valid, are documented in
`testbed.audit.sequential` and `testbed.audit.anytime`.
Episodes are fed to the checks in seed order, whatever order workers finish them in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from testbed.audit.sequential import (
    Constraint,
    CostRegression,
    CVaRLimit,
    EpisodeData,
    InterventionRate,
    NeverAbove,
    SequentialAudit,
    ViolationRate,
    ViolationRegression,
)
from testbed.audit.spec import AuditStage, ConstraintSpec
from testbed.audit.stats import overall_verdict
from testbed.context import StageContext, StageResult
from testbed.errors import BadInput
from testbed.evaluate.stats import summarize_episodes
from testbed.rollout.episode import EpisodeRecord
from testbed.rollout.executor import EpisodeRunner, Executor, LocalExecutor
from testbed.scenario.document import Scenario
from testbed.seeding import EpisodeSeeds

EpisodeCallback = Callable[[int, EpisodeRecord, str], None]


@dataclass(frozen=True)
class Check:
    """One limit of one constraint on one cost stream."""

    constraint: str  # the scenario's constraint name
    scope: str  # "team" or an agent name
    cost: str  # "total" or a named component
    limit_kind: str  # violation_rate, mean, cvar, never, interventions, *_regression
    test: Constraint
    threshold: float | None = None  # the cost an episode (or a step, for never) must not exceed

    @property
    def label(self) -> str:
        scope = "" if self.scope == "team" else f"[{self.scope}]"  # [max] or [agent name]
        return f"{self.constraint}{scope} {self.limit_kind}"


def checks_of(spec: ConstraintSpec, scope: str) -> list[Check]:
    """The checks one scenario constraint asks for, on one scope."""
    tests: list[tuple[str, Constraint]] = []
    if spec.max_violation_rate is not None:
        assert spec.limit is not None  # the schema requires it
        tests.append(("violation_rate", ViolationRate(spec.limit, spec.max_violation_rate)))
    if spec.max_mean is not None:  # the mean is CVaR at alpha = 1
        tests.append(("mean", CVaRLimit(1.0, spec.max_mean, spec.cost_bound)))
    if spec.cvar is not None:
        tests.append(
            (
                f"cvar_{spec.cvar.alpha:g}",
                CVaRLimit(spec.cvar.alpha, spec.cvar.limit, spec.cost_bound),
            )
        )
    if spec.never_above is not None:
        tests.append(("never", NeverAbove(spec.never_above, spec.never_max_rate)))
    if spec.max_intervention_rate is not None:
        tests.append(
            ("interventions", InterventionRate(spec.max_intervention_rate, spec.intervention_per))
        )
    if spec.regression:
        tests.append(("cost_regression", CostRegression()))
        if spec.limit is not None:
            tests.append(("violation_regression", ViolationRegression(spec.limit)))
    thresholds = {
        "violation_rate": spec.limit,
        "violation_regression": spec.limit,
        "never": spec.never_above,
    }
    return [
        Check(spec.name, scope, spec.cost, kind, test, thresholds.get(kind)) for kind, test in tests
    ]


def scopes_of(spec: ConstraintSpec, agents: list[str], where: str | None) -> list[str]:
    if spec.agent in ("team", "each", "max"):
        return list(agents) if spec.agent == "each" else [spec.agent]
    if spec.agent not in agents:
        raise BadInput(
            f"constraint {spec.name!r} reads agent {spec.agent!r}, which the env does not have "
            f"(its agents: {', '.join(agents)}; or use team / each / max)",
            where=where,
        )
    return [spec.agent]


def stream(records: list[EpisodeRecord], scope: str, cost: str) -> dict[str, np.ndarray | None]:
    """Per-episode cost, largest step cost, interventions and steps of one scope."""

    def members(record: EpisodeRecord) -> list[Any]:
        if scope in ("team", "max"):
            return list(record.agents.values())
        return [record.agents[scope]] if scope in record.agents else []

    def total(a: Any) -> float:
        return a.cost if cost == "total" else a.costs.get(cost, 0.0)

    def peak(a: Any) -> float:
        return a.max_step_cost if cost == "total" else a.max_step_costs.get(cost, 0.0)

    groups = [members(r) for r in records]
    if scope == "max":  # a cost every agent shares (commons, Safe MaMuJoCo): count it once
        return {
            "cost": np.array([max((total(a) for a in g), default=0.0) for g in groups]),
            "max_step_cost": np.array([max((peak(a) for a in g), default=0.0) for g in groups]),
            "interventions": None,
            "steps": np.array([max((a.steps for a in g), default=0) for g in groups], float),
        }
    interventions = None
    if any(a.interventions is not None for g in groups for a in g):
        interventions = np.array([sum(a.interventions or 0 for a in g) for g in groups], float)
    return {
        "cost": np.array([sum(total(a) for a in g) for g in groups], float),
        "max_step_cost": np.array([max((peak(a) for a in g), default=0.0) for g in groups]),
        "interventions": interventions,
        "steps": np.array([sum(a.steps for a in g) for g in groups], float),
    }


def _episode_data(
    check: Check, records: list[EpisodeRecord], baseline: list[EpisodeRecord] | None
) -> EpisodeData:
    mine = stream(records, check.scope, check.cost)
    base = stream(baseline, check.scope, check.cost)["cost"] if baseline is not None else None
    return EpisodeData(
        mine["cost"], mine["max_step_cost"], mine["interventions"], mine["steps"], base
    )


def _check_streams_exist(
    checks: list[Check], records: list[EpisodeRecord], scenario: Scenario, index: int
) -> None:
    """Fail clearly when a constraint reads a cost part or a count the run never reports."""
    seen = {p for r in records for a in r.agents.values() for p in a.costs}
    where = scenario.where("stages", index, "constraints")
    for check in checks:
        if check.cost != "total" and check.cost not in seen:
            raise BadInput(
                f"constraint {check.constraint!r} reads cost {check.cost!r}, which the env does "
                f"not report; it reports: {', '.join(sorted(seen)) or 'only the total cost'}",
                where=where,
            )
        if check.limit_kind == "interventions" and not any(
            a.interventions is not None for r in records for a in r.agents.values()
        ):
            raise BadInput(
                f"constraint {check.constraint!r} limits shield interventions, but no audited "
                "agent reports any (is it shielded?)",
                where=where,
            )


def _play(
    executor: Executor,
    scenario: Scenario,
    index: int,
    seeds: Sequence[int],
    numbers: range,
    subject: str,
    on_episode: EpisodeCallback | None,
    done: dict[int, EpisodeRecord],
) -> list[EpisodeRecord]:
    """Episodes `numbers` of one subject in order; those in `done` are not played again."""
    chunk = {k: done[k] for k in numbers if k in done}
    todo = [k for k in numbers if k not in chunk]
    for number, record in executor.imap(scenario, index, seeds, subject, numbers=todo):
        chunk[number] = record
        if on_episode is not None:
            on_episode(number, record, subject)
    return [chunk[k] for k in numbers]


def worst_episodes(records: list[EpisodeRecord], count: int = 5) -> list[dict[str, Any]]:
    order = sorted(range(len(records)), key=lambda k: -records[k].team_cost)[:count]
    return [
        {
            "episode": k,
            "seed": records[k].seed,
            "team_cost": records[k].team_cost,
            "team_return": records[k].team_return,
            "agent_costs": {a: r.cost for a, r in records[k].agents.items()},
        }
        for k in order
    ]


def attribution(records: list[EpisodeRecord]) -> dict[str, dict[str, float]]:
    """Each agent's share of the total cost and of the episodes in which it had any cost."""
    names = sorted({a for r in records for a in r.agents})
    total = sum(r.team_cost for r in records) or 1.0
    out = {}
    for name in names:
        costs = [r.agents[name].cost for r in records if name in r.agents]
        parts: dict[str, float] = {}
        for r in records:
            if name in r.agents:
                for p, v in r.agents[name].costs.items():
                    parts[p] = parts.get(p, 0.0) + v
        out[name] = {
            "cost_share": sum(costs) / total,
            "episodes_with_cost": float(np.mean([c > 0 for c in costs])) if costs else 0.0,
            "mean_cost": float(np.mean(costs)) if costs else 0.0,
            "parts": parts,
        }
    return out


@dataclass
class AuditResult(StageResult):
    """Verdicts per constraint check and overall, with the episodes that decided them."""

    kind: ClassVar[str] = "audit"
    transient: ClassVar[tuple[str, ...]] = ("records", "baseline_records")

    agents: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] | None = None
    seats: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    confidence: float = 0.95
    episodes: int = 0
    episodes_min: int = 0
    episodes_max: int = 0
    episodes_decided: int = 0  # the episode count the last check was decided at
    sequential: str = "fixed"  # anytime | looks | mixed (checks without anytime tests) | fixed
    stopped_early: bool = False
    verdict: str = "INCONCLUSIVE"  # type: ignore[assignment]  (the base's property)
    constraints: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    attribution: dict[str, dict[str, Any]] = field(default_factory=dict)
    worst_episodes: list[dict[str, Any]] = field(default_factory=list)
    wall_time_s: float = 0.0
    episodes_per_s: float | None = None
    records: list[EpisodeRecord] = field(default_factory=list)
    baseline_records: list[EpisodeRecord] | None = None


def check_audit(scenario: Scenario, index: int) -> tuple[dict[str, str], list[Check]]:
    """Build the stage's team (and baseline) and its constraint checks, playing nothing: bad
    input fails here. Returns {agent: label} and the checks."""
    stage = scenario.stages[index]
    preflight = EpisodeRunner(scenario, index)
    agents = list(preflight.env.possible_agents)
    seats = {a: stage.agents[p].label for a, p in preflight.seats.items()}
    preflight.close()
    if stage.baseline:
        EpisodeRunner(scenario, index, "baseline").close()
    checks = [
        check
        for k, spec in enumerate(stage.constraints)
        for scope in scopes_of(spec, agents, scenario.where("stages", index, "constraints", k))
        for check in checks_of(spec, scope)
    ]
    return seats, checks


def run_audit(
    scenario: Scenario,
    index: int,
    executor: Executor | None = None,
    on_episode: EpisodeCallback | None = None,
    done: dict[str, dict[int, EpisodeRecord]] | None = None,
) -> AuditResult:
    """Audit the stage's agents (and baseline, in regression mode) until decided; episodes
    in `done` ({subject: {number: record}}, an interrupted run's) are not played again."""
    stage = scenario.stages[index]
    assert isinstance(stage, AuditStage)
    executor = executor or LocalExecutor()
    seats, checks = check_audit(scenario, index)
    audits = [
        SequentialAudit(
            [c.test],
            confidence=stage.confidence,
            min_episodes=stage.min_episodes,
            max_episodes=stage.max_episodes,
            method="looks" if stage.sequential == "looks" else "anytime",
            open_ended=stage.sequential == "open-ended",
        )
        for c in checks
    ]
    seeds = EpisodeSeeds(
        scenario.stage_seed(index), stage.max_episodes, stream=scenario.seed_stream(index)
    )
    records: list[EpisodeRecord] = []
    baseline: list[EpisodeRecord] | None = [] if stage.baseline else None
    mine, theirs = (done or {}).get("agents", {}), (done or {}).get("baseline", {})
    started = time.perf_counter()
    while not all(a.finished() for a in audits):
        need = max(a.episodes_needed() for a in audits if not a.finished())
        start = len(records)
        numbers = range(start, min(start + need, len(seeds)))
        new = _play(executor, scenario, index, seeds, numbers, "agents", on_episode, mine)
        new_base = None
        if baseline is not None:
            new_base = _play(
                executor, scenario, index, seeds, numbers, "baseline", on_episode, theirs
            )
            baseline.extend(new_base)
        if not records:
            _check_streams_exist(checks, new, scenario, index)
        records.extend(new)
        for check, audit in zip(checks, audits, strict=True):
            if not audit.finished():
                audit.add(_episode_data(check, new, new_base))
    elapsed = time.perf_counter() - started
    end = max(a.n_used for a in audits)  # where the last check was decided
    for check, audit in zip(checks, audits, strict=True):  # earlier ones read up to it too
        if audit.n_used < end:
            base = None if baseline is None else baseline[:end]
            audit.revisit(_episode_data(check, records[:end], base), end)

    results = []
    for check, audit in zip(checks, audits, strict=True):
        result = audit.results()[0]
        results.append(
            {
                "constraint": check.constraint,
                "scope": check.scope,
                "cost": check.cost,
                "check": check.limit_kind,
                "label": check.label,
                "episodes_used": audit.n_used,
                "sequential": _method_name(audit),
                "threshold": check.threshold,
                **result.to_dict(),
            }
        )
    verdict = overall_verdict([a.results()[0] for a in audits])
    decided_at = end
    methods = {row["sequential"] for row in results}
    return AuditResult(
        name=scenario.stage_name(index),
        env=stage.env.model_dump(),
        agents={p: ref.model_dump() for p, ref in stage.agents.items()},
        baseline={p: r.model_dump() for p, r in (stage.baseline or {}).items()} or None,
        seats=seats,
        seed=scenario.stage_seed(index),
        confidence=stage.confidence,
        episodes=len(records),
        episodes_min=stage.min_episodes,
        episodes_max=stage.max_episodes,
        episodes_decided=decided_at,
        sequential=methods.pop() if len(methods) == 1 else "mixed",
        stopped_early=decided_at < stage.max_episodes,
        verdict=str(verdict),
        constraints=results,
        metrics=summarize_episodes(records),
        attribution=attribution(records),
        worst_episodes=worst_episodes(records),
        wall_time_s=elapsed,
        episodes_per_s=len(records) / elapsed if elapsed > 0 else None,
        records=records,
        baseline_records=baseline,
    )


def run_audit_stage(context: StageContext) -> AuditResult:
    """The table's entry: `run_audit` with a progress bar and the episode log."""
    done = {}
    if context.resume is not None:
        done = {s: context.resume.episodes(context.name, s) for s in ("agents", "baseline")}
    context.progress.start(f"audit {context.name}", total=context.stage.max_episodes)
    return run_audit(context.scenario, context.index, context.executor, context.episode_done, done)


def _method_name(audit: SequentialAudit) -> str:
    """anytime | open-ended | looks | fixed, as the scenario names them."""
    if len(audit.looks) == 1:
        return "fixed"
    return "open-ended" if audit.method == "anytime" and audit.open_ended else audit.method
