"""Executors run a stage's episodes: in this process, or in worker processes.

Each episode's result depends only on the scenario and its own seed, so every executor yields
the same records for the same seeds (only the completion order differs; callers key records by
episode index). `ray_executor.RayExecutor` implements the same interface on a Ray cluster;
`backends.make_executor` chooses one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from testbed.errors import RunFailed, TestbedError
from testbed.rollout.build import build_env, build_team
from testbed.rollout.episode import EpisodeRecord, run_episode
from testbed.rollout.workers import WorkerDied, WorkerPool
from testbed.scenario.document import Scenario


class TaskRunner(Protocol):
    """Per-worker state (an env, built agents) that runs tasks; built once per worker."""

    def run(self, *task: Any) -> Any: ...

    def close(self) -> None: ...


class Executor(Protocol):
    def imap_tasks(
        self, factory: Callable[..., TaskRunner], args: tuple, tasks: Iterable[tuple]
    ) -> Iterator[tuple[int, Any]]:
        """Build `factory(*args)` once per worker, run every task on it, and yield
        (position in `tasks`, result or WorkerDied) as tasks finish, in any order."""

    def imap(
        self,
        scenario: Scenario,
        index: int,
        seeds: Sequence[int],
        subject: str = "agents",
        numbers: Iterable[int] | None = None,
    ) -> Iterator[tuple[int, EpisodeRecord]]:
        """Yield (episode number, record) as episodes finish, in any order."""

    def close(self) -> None:
        """Release worker processes (or a cluster connection) kept between calls."""


class EpisodeRunner:
    """Holds one env and team for a stage and plays episodes of it by seed."""

    def __init__(self, scenario: Scenario, index: int, subject: str = "agents"):
        self.scenario = scenario
        self.stage = scenario.stages[index]
        try:
            self.env = build_env(scenario, index)
            self.team, self.seats = build_team(scenario, index, self.env, subject)
        except TestbedError:
            raise
        except Exception as exc:
            raise RunFailed(
                f"building stage {scenario.stage_name(index)!r} (env {self.stage.env.id!r}, "
                f"{subject}) failed: {type(exc).__name__}: {exc}"
            ) from exc

    def run(self, number: int, seed: int) -> EpisodeRecord:
        return self.play(number, seed)

    def play(self, number: int, seed: int) -> EpisodeRecord:
        try:
            return run_episode(self.env, self.team, seed, self.stage.max_steps)
        except RunFailed:
            raise
        except Exception as exc:
            raise RunFailed(
                f"episode {number} (seed {seed}) of env {self.stage.env.id!r} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def close(self) -> None:
        try:
            self.env.close()
        except Exception:  # closing must never hide the result
            pass


class EpisodesByTask:
    """`imap` (episodes by seed) on top of `imap_tasks`: a worker that died fails the run,
    naming the episode."""

    def imap(
        self,
        scenario: Scenario,
        index: int,
        seeds: Sequence[int],
        subject: str = "agents",
        numbers: Iterable[int] | None = None,
    ) -> Iterator[tuple[int, EpisodeRecord]]:
        """(episode number, record) for episodes `numbers` (default: all of `seeds`); both
        are read lazily, so a huge count starts at once."""
        issued: dict[int, int] = {}

        def tasks() -> Iterator[tuple[int, int]]:
            for position, number in enumerate(range(len(seeds)) if numbers is None else numbers):
                issued[position] = number
                yield number, seeds[number]

        outcomes = self.imap_tasks(EpisodeRunner, (scenario, index, subject), tasks())  # type: ignore[attr-defined]
        for position, outcome in outcomes:
            number = issued.pop(position)
            if isinstance(outcome, WorkerDied):
                raise RunFailed(
                    f"episode {number} (seed {seeds[number]}) of stage "
                    f"{scenario.stage_name(index)!r}: {outcome.reason}"
                )
            yield number, outcome


class LocalExecutor(EpisodesByTask):
    """Runs tasks one after another in this process."""

    workers = 1

    def close(self) -> None:
        return None

    def imap_tasks(
        self, factory: Callable[..., TaskRunner], args: tuple, tasks: Iterable[tuple]
    ) -> Iterator[tuple[int, Any]]:
        runner = factory(*args)
        try:
            for position, task in enumerate(tasks):
                yield position, runner.run(*task)
        finally:
            runner.close()


class ProcessExecutor(EpisodesByTask):
    """Runs tasks in `workers` worker processes (testbed/rollout/workers.py), each holding its
    own runner; a task whose worker died yields a `WorkerDied` instead of a result. The
    processes serve every call until `close` (or until the pool is garbage)."""

    def __init__(self, workers: int | None = None, *, memory_limit_mb: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self.memory_limit_mb = memory_limit_mb
        self.pool = WorkerPool(self.workers, memory_limit_mb=memory_limit_mb)

    def imap_tasks(
        self, factory: Callable[..., TaskRunner], args: tuple, tasks: Iterable[tuple]
    ) -> Iterator[tuple[int, Any]]:
        return self.pool.imap_unordered(factory, args, tasks)

    def close(self) -> None:
        self.pool.close()
