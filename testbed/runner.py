"""Run a scenario's stages, show progress and reports, write the run directory.

Each stage's kind comes from the table in `testbed.stages`; the runner builds its context
(options, executor, progress bar, episode log), runs it, shows its view, and at the end
writes result.json, summary.md, audit.junit.xml (when a kind judges) and each kind's files.
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from testbed import registry
from testbed.context import NoProgress, RunOptions, RunResult, StageContext, StageResult
from testbed.errors import BadInput, Interrupted, TestbedError
from testbed.registry.checkpoint import read_config
from testbed.report.compare import compare_sweeps
from testbed.report.output import EpisodeLog, write_json
from testbed.report.summary import junit_document, summary_markdown
from testbed.resume import RunFolder
from testbed.rollout import ray_executor
from testbed.rollout.backends import make_executor
from testbed.rollout.executor import Executor
from testbed.scenario.document import Scenario
from testbed.scenario.references import is_checkpoint_param
from testbed.stages import KINDS, StageKind


def run(
    scenario: Scenario,
    out: str | Path | None = None,
    *,
    workers: int | None = None,
    console: Console | None = None,
    show: bool = True,
    allow_inconclusive: bool = False,
    resume: bool = False,
    db: str | Path | None = None,
    memory_limit_mb: int | None = None,
    command: str | None = None,
    executor: str | None = None,
    address: str | None = None,
) -> RunResult:
    """Run every stage; write result.json and episodes.jsonl into `out` when given.

    Finished episodes are appended to episodes.jsonl as they end, so a crash or kill loses
    none of them; result.json is written at the end, also when a stage fails. Tournament
    games go to the leaderboard database (`db`) as they end; `resume` continues an
    interrupted tournament there. `executor="ray"` runs episodes, games and sweep runs on a
    Ray cluster (`address`, else RAY_ADDRESS, else a local one started for the run).
    """
    console = console or Console(stderr=False)
    options = RunOptions(
        workers=workers,
        resume=resume,
        db=Path(db) if db is not None else None,
        out_dir=Path(out) if out is not None else None,
        allow_inconclusive=allow_inconclusive,
        memory_limit_mb=memory_limit_mb,
        command=command,
        executor=executor or ("ray" if address else scenario.executor.type),
        address=address or scenario.executor.address,
        retries=scenario.executor.retries,
    )
    result = RunResult(
        scenario.name,
        scenario_data=scenario.model_dump(mode="json"),
        base_dir=str(scenario.base_dir) if scenario.base_dir else None,
        out_dir=options.out_dir,
    )
    folder = None
    if resume and options.out_dir is not None and (options.out_dir / "result.json").exists():
        folder = RunFolder.open(options.out_dir, result.scenario_data)
    log = _open_log(options.out_dir, append=folder is not None)
    result.status = "running"
    _write_result(result)  # a killed run still says what it was and how far it got
    executors = _Executors(options)
    try:
        trained: dict[str, dict[str, str]] = {}
        for index in range(len(scenario.stages)):
            scenario = resolve_trained(scenario, index, trained)
            kind = KINDS[scenario.stages[index].kind]
            executor = executors.get(scenario, index, kind)
            stage_result = _run_stage(scenario, index, kind, options, console, show, log, folder,
                                      executor)  # fmt: skip
            result.stages.append(stage_result)
            _write_result(result)
            if stage_result.trained_agents():
                trained[stage_result.name] = stage_result.trained_agents()
            if show:
                console.print(kind.view(stage_result, options.out_dir))
        result.status = "ok"
    except BaseException as exc:  # any failure, Ctrl-C and SIGTERM included, is recorded
        result.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        result.error = _describe_failure(exc)
        if options.out_dir is not None and not isinstance(exc, BadInput):
            result.resume = resume_hint(options)
        raise
    finally:
        executors.close()
        if log is not None:
            log.close()
        if options.out_dir is not None:
            write_run_files(result, options.out_dir, allow_inconclusive)
    return result


def _describe_failure(exc: BaseException) -> str:
    if isinstance(exc, TestbedError | Interrupted):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "stopped by SIGINT (Ctrl-C)"
    return f"{type(exc).__name__}: {exc}"


def _write_result(result: RunResult) -> None:
    if result.out_dir is not None:
        data = result.to_dict()
        data["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_json(result.out_dir / "result.json", data)


def resume_hint(options: RunOptions) -> str:
    """The command that continues this run in its own folder."""
    if options.command is None:
        return f"testbed.run(scenario, out={str(options.out_dir)!r}, resume=True)"
    words = shlex.split(options.command)
    words = [w for w in words if w != "--resume"]
    if "--out" not in words and not any(w.startswith("--out=") for w in words):
        words += ["--out", str(options.out_dir)]
    return shlex.join([*words, "--resume"])


def _open_log(out_dir: Path | None, *, append: bool) -> EpisodeLog | None:
    """episodes.jsonl of the run folder (a resumed run's, appended to); an unwritable folder
    is bad input."""
    if out_dir is None:
        return None
    taken = (out_dir / "episodes.jsonl").exists() or (out_dir / "result.json").exists()
    if taken and not append:
        raise BadInput(
            f"{str(out_dir)!r} already holds a run; --resume continues it, or choose another --out"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return EpisodeLog(out_dir / "episodes.jsonl")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BadInput(
            f"cannot write the run folder {str(out_dir)!r}: {reason}",
            hint="choose a --out you can write to",
        ) from None


def _run_stage(
    scenario: Scenario,
    index: int,
    kind: StageKind,
    options: RunOptions,
    console: Console,
    show: bool,
    log: EpisodeLog | None,
    folder: RunFolder | None,
    executor: Executor,
) -> StageResult:
    """One stage with a live progress bar."""
    with _RichProgress(console) if show else NoProgress() as progress:
        context = StageContext(scenario, index, options, executor, progress, log, folder)
        return kind.run(context)


class _Executors:
    """The run's executors: one per (workers, isolation, memory limit), kept across stages so
    that worker processes start once; all closed (and a local Ray cluster stopped) at the end."""

    def __init__(self, options: RunOptions):
        self.options = options
        self.made: dict[tuple, Executor] = {}

    def get(self, scenario: Scenario, index: int, kind: StageKind) -> Executor:
        """The stage kind's default number of workers unless --workers (on Ray: every CPU of
        the cluster)."""
        options = self.options
        workers = options.workers
        if workers is None and options.executor != "ray":
            workers = (os.cpu_count() or 1) if kind.workers == "all" else 1
        memory = options.memory_limit_mb or scenario.stages[index].memory_limit
        key = (workers, kind.isolated, memory)
        if key not in self.made:
            self.made[key] = make_executor(
                workers,
                isolated=kind.isolated,
                memory_limit_mb=memory,
                backend="ray" if options.executor == "ray" else "local",
                address=options.address,
                retries=options.retries,
            )
        return self.made[key]

    def close(self) -> None:
        for executor in self.made.values():
            executor.close()
        if self.options.executor == "ray":
            ray_executor.shutdown()


def write_run_files(result: RunResult, out_dir: Path, allow_inconclusive: bool) -> None:
    """result.json always; summary.md, audit.junit.xml and the kinds' files after success."""
    _write_result(result)
    if not result.stages or result.status != "ok":
        return
    pairs = [(stage, KINDS[stage.kind]) for stage in result.stages]
    sections = [(stage, kind.markdown(stage)) for stage, kind in pairs]
    compared = compare_sweeps(result.stages, out_dir)
    (out_dir / "summary.md").write_text(
        "\n".join([summary_markdown(result.scenario, result.verdict, sections), *compared]) + "\n",
        encoding="utf-8",
    )
    suites = [
        kind.junit(stage, result.scenario, allow_inconclusive)
        for stage, kind in pairs
        if kind.junit is not None
    ]
    if suites:
        (out_dir / "audit.junit.xml").write_text(
            junit_document(result.scenario, suites), encoding="utf-8"
        )
    for stage, kind in pairs:
        if kind.write_files is not None:
            kind.write_files(stage, out_dir)


def resolve_trained(scenario: Scenario, index: int, trained: dict[str, dict[str, str]]) -> Scenario:
    """Replace `checkpoint: "@<train stage>/<agent>"` in stage `index` (and agent parameters
    named `*_checkpoint`, e.g. DAgger's `expert_checkpoint`) by the folder that stage wrote
    in this run."""
    stage = scenario.stages[index]
    data = stage.model_dump(mode="python")
    changed = False

    def folder(ref: str, loc: tuple[Any, ...]) -> str:
        nonlocal changed
        stage_name, _, agent = ref[1:].partition("/")
        path = trained.get(stage_name, {}).get(agent)
        if path is None:
            known = [f"@{s}/{a}" for s, agents in trained.items() for a in agents]
            raise BadInput(
                f"{ref!r}: no such trained agent in this run; trained so "
                f"far: {', '.join(known) or 'none'}",
                where=scenario.where("stages", index, *loc),
            )
        changed = True
        return path

    def walk(node: Any, loc: tuple[Any, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("checkpoint")
            if isinstance(ref, str) and ref.startswith("@"):
                path = folder(ref, (*loc, "checkpoint"))
                saved = read_config(Path(path))["agent"]
                if registry.is_reference(saved):  # code this scenario named in that stage
                    return {**node, "checkpoint": path, "id": saved}
                return {**node, "checkpoint": path}
            return {k: walk(v, (*loc, k)) for k, v in node.items()}
        if isinstance(node, str) and is_checkpoint_param(loc) and node.startswith("@"):
            return folder(node, loc)  # an agent parameter such as DAgger's expert_checkpoint
        return node

    data = walk(data, ())
    if not changed:
        return scenario
    stages = list(scenario.stages)
    stages[index] = type(stage).model_validate(data)
    return scenario.model_copy(update={"stages": stages})


class _RichProgress:
    """A stage's live progress bar: spinner, description, bar, done/total, time, ETA, status."""

    def __init__(self, console: Console):
        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=True,
        )
        self.task: Any = None

    def __enter__(self) -> _RichProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def start(self, description: str, total: int | None = None) -> None:
        self.task = self.bar.add_task(description, total=total, status="")

    def update(self, **fields: Any) -> None:
        if self.task is None:
            self.start("stage")
        changes = {k: v for k, v in fields.items() if v is not None}
        self.bar.update(self.task, **changes)
