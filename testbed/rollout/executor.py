"""Executors run a stage's episodes: in this process, or in worker processes.

Each episode's result depends only on the scenario and its own seed, so every executor yields
the same records for the same seeds (only the completion order differs; callers key records by
episode index). A Ray executor implements the same `imap_tasks` interface.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from testbed.errors import RunFailed, TestbedError
from testbed.rollout.build import build_env, build_team
from testbed.rollout.episode import EpisodeRecord, run_episode
from testbed.scenario.document import Scenario


class TaskRunner(Protocol):
    """Per-worker state (an env, built agents) that runs tasks; built once per worker."""

    def run(self, *task: Any) -> Any: ...

    def close(self) -> None: ...


class Executor(Protocol):
    def imap_tasks(
        self, factory: Callable[..., TaskRunner], args: tuple, tasks: Sequence[tuple]
    ) -> Iterator[tuple[int, Any]]:
        """Build `factory(*args)` once per worker, run every task on it, and yield
        (position in `tasks`, result) as tasks finish, in any order."""

    def imap(
        self, scenario: Scenario, index: int, seeds: Sequence[int], subject: str = "agents"
    ) -> Iterator[tuple[int, EpisodeRecord]]:
        """Yield (position in `seeds`, record) as episodes finish, in any order."""


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


class _EpisodesMixin:
    """`imap` (episodes by seed) on top of `imap_tasks`."""

    def imap(
        self, scenario: Scenario, index: int, seeds: Sequence[int], subject: str = "agents"
    ) -> Iterator[tuple[int, EpisodeRecord]]:
        tasks = [(number, seed) for number, seed in enumerate(seeds)]
        return self.imap_tasks(EpisodeRunner, (scenario, index, subject), tasks)  # type: ignore[attr-defined]


class LocalExecutor(_EpisodesMixin):
    """Runs tasks one after another in this process."""

    workers = 1

    def imap_tasks(
        self, factory: Callable[..., TaskRunner], args: tuple, tasks: Sequence[tuple]
    ) -> Iterator[tuple[int, Any]]:
        runner = factory(*args)
        try:
            for position, task in enumerate(tasks):
                yield position, runner.run(*task)
        finally:
            runner.close()


_worker: TaskRunner | None = None


def _init_worker(factory: Callable[..., TaskRunner], args: tuple) -> None:
    global _worker
    _worker = factory(*args)


def _run(position: int, task: tuple) -> tuple[int, Any]:
    assert _worker is not None
    return position, _worker.run(*task)


class ProcessExecutor(_EpisodesMixin):
    """Runs tasks in `workers` processes (spawned), each holding its own runner."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1

    def imap_tasks(
        self, factory: Callable[..., TaskRunner], args: tuple, tasks: Sequence[tuple]
    ) -> Iterator[tuple[int, Any]]:
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_init_worker, initargs=(factory, args)
        )
        pending: set[Future[Any]] = set()
        todo = iter(enumerate(tasks))
        try:
            for position, task in todo:  # keep a bounded queue so a failure stops early
                pending.add(pool.submit(_run, position, task))
                if len(pending) >= 4 * self.workers:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending.add(pool.submit(_run, *nxt))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def make_executor(workers: int) -> Executor:
    return LocalExecutor() if workers <= 1 else ProcessExecutor(workers)
