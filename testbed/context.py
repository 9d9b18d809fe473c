"""The contract between the runner and a stage kind: what a stage's `run` receives
(`StageContext`: the scenario, the stage's index, the run's options, an executor, a progress
display, the episode log) and what it returns (a `StageResult`).

`testbed.stages` lists the kinds; `testbed.runner` builds a context for each stage and calls
the kind's `run(context)`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from testbed._version import __version__
from testbed.report.output import EpisodeLog
from testbed.resume import RunFolder
from testbed.rollout.episode import EpisodeRecord
from testbed.rollout.executor import Executor
from testbed.scenario.document import Scenario


@dataclass(frozen=True)
class RunOptions:
    """How a run was asked for (the CLI's flags, or `testbed.run`'s keywords)."""

    workers: int | None = None
    """Worker processes; None: the kind's default (tournaments: every core; others: 1)."""
    resume: bool = False
    """Continue an interrupted run: finished episodes and games are kept."""
    db: Path | None = None
    """Leaderboard database overriding the stages' `db`."""
    out_dir: Path | None = None
    """The run directory (None: nothing is written, e.g. from Python without `out`)."""
    allow_inconclusive: bool = False
    """An INCONCLUSIVE audit passes (with a warning)."""
    memory_limit_mb: int | None = None
    """Memory each worker process may use (None: the stage's `memory_limit` or the default)."""
    command: str | None = None
    """The command line that started the run, for the resume hint."""
    executor: str | None = None
    """`local` or `ray` (None: the scenario's `executor`)."""
    address: str | None = None
    """The Ray cluster's address (None: the scenario's, else RAY_ADDRESS, else a local one)."""
    retries: int = 3
    """Ray's retries of a lost task (the scenario's `executor.retries`)."""


class Progress(Protocol):
    """A live progress display for one stage (a rich bar, or nothing)."""

    def start(self, description: str, total: int | None = None) -> None: ...

    def update(
        self,
        *,
        completed: int | None = None,
        advance: int | None = None,
        total: int | None = None,
        status: str | None = None,
    ) -> None: ...


class NoProgress:
    """A Progress that shows nothing."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def start(self, description: str, total: int | None = None) -> None:
        return None

    def update(self, **_: Any) -> None:
        return None


@dataclass
class StageContext:
    """Everything a stage kind's `run` needs; built by the runner for each stage."""

    scenario: Scenario
    index: int
    options: RunOptions = field(default_factory=RunOptions)
    executor: Executor | None = None
    progress: Progress = field(default_factory=NoProgress)
    log: EpisodeLog | None = None
    resume: RunFolder | None = None
    """What an interrupted run of this scenario left in the run folder (`--resume`)."""
    _returns: list[float] = field(default_factory=list, init=False, repr=False)
    _costs: list[float] = field(default_factory=list, init=False, repr=False)

    @property
    def stage(self) -> Any:
        return self.scenario.stages[self.index]

    @property
    def name(self) -> str:
        return self.scenario.stage_name(self.index)

    def where(self, *loc: Any) -> str | None:
        """`file:line: field` of a field of this stage."""
        return self.scenario.where("stages", self.index, *loc)

    def episode_done(self, number: int, record: EpisodeRecord, subject: str = "agents") -> None:
        """Append a finished episode to episodes.jsonl and show the agents' running means."""
        if self.log is not None:
            self.log.write({"stage": self.name, "subject": subject, "episode": number,
                            **record.to_dict()})  # fmt: skip
        if subject != "agents":
            return
        self._returns.append(record.team_return)
        self._costs.append(record.team_cost)
        n = len(self._returns)
        status = f"return {sum(self._returns) / n:.2f} cost {sum(self._costs) / n:.2f}"
        self.progress.update(advance=1, status=status)


@dataclass
class StageResult:
    """What one stage produced. Each kind subclasses it with its own fields; `to_dict` is
    what result.json holds (fields in `transient`, such as episode records, are left out).
    Results can also be read by key (`result["metrics"]`), as in testbed 0.1."""

    kind: ClassVar[str] = ""
    transient: ClassVar[tuple[str, ...]] = ()

    name: str
    env: dict[str, Any]

    @property
    def verdict(self) -> str | None:
        """PASS / FAIL / INCONCLUSIVE for kinds that judge, else None."""
        return None

    def trained_agents(self) -> dict[str, str]:
        """{agent or pattern: checkpoint folder} a later stage can name as `@<stage>/<agent>`."""
        return {}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageResult:
        """The result `to_dict` wrote (transient fields come back empty)."""
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            if f.name not in self.transient:
                data[f.name] = getattr(self, f.name)
        return data

    def __getitem__(self, key: str) -> Any:
        if key == "kind" or key in {f.name for f in dataclasses.fields(self)}:
            return getattr(self, key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key == "kind" or key in {f.name for f in dataclasses.fields(self)}

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default


@dataclass
class RunResult:
    """What a run produced: each stage's result, and how the run ended."""

    scenario: str
    scenario_data: dict[str, Any] = field(default_factory=dict)
    base_dir: str | None = None
    stages: list[StageResult] = field(default_factory=list)
    status: str = "ok"
    """running, ok, failed, or interrupted (by a signal)."""
    error: str | None = None
    out_dir: Path | None = None
    resume: str | None = None
    """How to continue the run when it did not finish."""

    @property
    def verdict(self) -> str | None:
        """Overall verdict of the stages that judge (FAIL > INCONCLUSIVE > PASS), else None."""
        verdicts = {s.verdict for s in self.stages}
        for verdict in ("FAIL", "INCONCLUSIVE", "PASS"):
            if verdict in verdicts:
                return verdict
        return None

    def to_dict(self) -> dict[str, Any]:
        """result.json: the run, the validated scenario (for replay) and every stage."""
        return {
            "testbed_version": __version__,
            "scenario": self.scenario,
            "status": self.status,
            "error": self.error,
            "verdict": self.verdict,
            "resume": self.resume,
            "scenario_data": self.scenario_data,
            "base_dir": self.base_dir,
            "stages": [s.to_dict() for s in self.stages],
        }
