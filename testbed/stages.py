"""THE table of stage kinds: `kind: <name>` in a scenario -> everything about that kind.

The runner, the reports, `testbed validate` and the tests read this table and nothing else,
so a new kind is one module (schema model, run function, terminal view, Markdown lines) plus
one entry here. A kind's `run(context)` gets a `testbed.context.StageContext` and returns a
`testbed.context.StageResult`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from testbed.audit.report import AuditView, audit_markdown, junit_suite, write_audit_files
from testbed.audit.spec import AuditStage
from testbed.audit.stage import check_audit, run_audit_stage
from testbed.context import StageContext, StageResult
from testbed.datasets.collect import (
    CollectStage,
    CollectView,
    check_collect,
    collect_markdown,
    run_collect_stage,
)
from testbed.describe import (
    DescribeStage,
    DescribeView,
    check_describe,
    describe_markdown,
    run_describe_stage,
)
from testbed.errors import BadInput, TestbedError
from testbed.evaluate.report import EvaluateView, evaluate_markdown
from testbed.evaluate.stage import EvaluateStage, check_evaluate, run_evaluate_stage
from testbed.meta.stage import (
    MetaTrainStage,
    MetaTrainView,
    check_meta_train,
    meta_train_markdown,
    run_meta_train_stage,
)
from testbed.population.report import PopulationView, population_markdown
from testbed.population.spec import PopulationStage
from testbed.population.stage import check_population, run_population_stage
from testbed.scenario import document
from testbed.scenario.document import Scenario
from testbed.scenario.models import StageModel
from testbed.scenario.references import check_references, code_references
from testbed.scenario.yamlsrc import Source
from testbed.tournament.report import TournamentView, tournament_markdown, write_tournament_files
from testbed.tournament.spec import TournamentStage
from testbed.tournament.stage import check_tournament, run_tournament_stage
from testbed.train.report import TrainView, train_markdown
from testbed.train.spec import TrainStage
from testbed.train.stage import check_train
from testbed.train.sweep import run_train_or_sweep


@dataclass(frozen=True)
class StageKind:
    """One kind of stage: its schema, how it runs, and how its result is reported."""

    model: type[StageModel]
    """The schema of `kind: <name>` (a `StageModel` subclass; unknown keys are errors)."""
    run: Callable[[StageContext], StageResult]
    """Runs the stage; reports progress and logs episodes through the context."""
    view: Callable[[Any, Path | None], Any]
    """(result, run directory) -> a rich renderable for the terminal."""
    markdown: Callable[[Any], list[str]]
    """result -> the stage's lines of summary.md."""
    quick: tuple[str, ...]
    """`--set` overrides that make a short run of the stage (tests, README checks); empty
    when the kind is short already."""
    check: Callable[[Scenario, int], Any] | None = None
    """(scenario, index) -> builds what the stage would build, playing nothing (`validate`)."""
    write_files: Callable[[Any, Path], None] | None = None
    """(result, run directory) -> extra files (plots) in the run directory."""
    junit: Callable[[Any, str, bool], ET.Element] | None = None
    """(result, scenario name, allow_inconclusive) -> a <testsuite> of audit.junit.xml."""
    workers: Literal["one", "all"] = "one"
    """Default worker processes when `--workers` is not given: one, or every core."""
    isolated: bool = False
    """Run tasks in worker processes even with one worker (tasks whose code may crash hard)."""


KINDS: dict[str, StageKind] = {
    "evaluate": StageKind(
        model=EvaluateStage,
        run=run_evaluate_stage,
        view=EvaluateView,
        markdown=evaluate_markdown,
        quick=("episodes=2",),
        check=check_evaluate,
    ),
    "audit": StageKind(
        model=AuditStage,
        run=run_audit_stage,
        view=AuditView,
        markdown=audit_markdown,
        quick=("episodes=2",),
        check=check_audit,
        write_files=write_audit_files,
        junit=junit_suite,
    ),
    "tournament": StageKind(
        model=TournamentStage,
        run=run_tournament_stage,
        view=TournamentView,
        markdown=tournament_markdown,
        quick=("rounds=1",),
        check=check_tournament,
        write_files=write_tournament_files,
        workers="all",
        isolated=True,
    ),
    "population": StageKind(
        model=PopulationStage,
        run=run_population_stage,
        view=PopulationView,
        markdown=population_markdown,
        quick=("episodes=2",),
        check=check_population,
    ),
    "train": StageKind(
        model=TrainStage,
        run=run_train_or_sweep,
        view=TrainView,
        markdown=train_markdown,
        quick=("steps=200", "eval_every=100", "eval_episodes=1"),
        check=check_train,
        workers="all",  # a sweep's seeds train in parallel; one run uses no worker
    ),
    "meta_train": StageKind(
        model=MetaTrainStage,
        run=run_meta_train_stage,
        view=MetaTrainView,
        markdown=meta_train_markdown,
        quick=("iterations=2",),
        check=check_meta_train,
    ),
    "collect": StageKind(
        model=CollectStage,
        run=run_collect_stage,
        view=CollectView,
        markdown=collect_markdown,
        quick=("episodes=2",),
        check=check_collect,
    ),
    "describe": StageKind(
        model=DescribeStage,
        run=run_describe_stage,
        view=DescribeView,
        markdown=describe_markdown,
        quick=(),
        check=check_describe,
    ),
}

MODELS: dict[str, type[StageModel]] = {name: kind.model for name, kind in KINDS.items()}


def load_scenario(
    path: str | Path, overrides: Iterable[str] = (), *, check_refs: bool = True
) -> Scenario:
    """Read, override (`key=value` strings, as `--set`) and validate a scenario file, and
    (`check_refs`) check that the envs, agents and checkpoints it names exist and fit."""
    scenario = document.load_scenario(path, overrides, kinds=MODELS)
    if check_refs:
        check_references(scenario)
    return scenario


def parse_scenario(
    data: Any, source: Source, base_dir: Path | None = None, *, check_refs: bool = True
) -> Scenario:
    """Validate plain data (a scenario as loaded from YAML) into a Scenario (and check what it
    names, as `load_scenario`)."""
    scenario = document.parse_scenario(data, source, base_dir, kinds=MODELS)
    if check_refs:
        check_references(scenario)
    return scenario


def check_scenario(scenario: Scenario) -> list[str]:
    """What `testbed validate` adds to the schema and reference checks: each stage's kind
    builds what the stage would build (envs, agents, schedules, checkpoints against the env's
    spaces), playing nothing. Stages that name code (`file.py:Name`, `module:attr`) are not
    built (their code is imported by the reference checks, not called), nor are stages using
    checkpoints trained earlier in the same run. Returns a note per stage not built; raises
    one BadInput with every problem."""
    problems: list[BadInput] = []
    notes = []
    for index, stage in enumerate(scenario.stages):
        name = scenario.stage_name(index)
        code = code_references(stage)
        later = [r.checkpoint for _, r in stage.agent_refs() if (r.checkpoint or "")[:1] == "@"]
        check = KINDS[stage.kind].check
        if check is None:
            continue
        if code or later:
            why = f"names code ({', '.join(code)})" if code else "uses this run's checkpoints"
            notes.append(f"stage {name!r} {why}: not built by validate")
            continue
        try:
            check(scenario, index)
        except BadInput as exc:
            problems.append(exc)
        except TestbedError as exc:
            where = scenario.where("stages", index)
            problems.append(BadInput(f"building stage {name!r} failed: {exc}", where=where))
    if problems:
        raise BadInput.combine(problems)
    return notes


def quick_overrides(scenario: Scenario) -> list[str]:
    """`--set` overrides that shorten every stage of a scenario (its kinds' `quick`)."""
    if len(scenario.stages) == 1:
        return list(KINDS[scenario.stages[0].kind].quick)
    return [
        f"stages.{i}.{override}"
        for i, stage in enumerate(scenario.stages)
        for override in KINDS[stage.kind].quick
    ]
