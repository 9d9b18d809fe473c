"""Run a stage's tasks (episodes, games, a sweep's training runs) as Ray tasks.

`RayExecutor` implements `Executor.imap_tasks` on a Ray cluster: the one at `address` (or
`RAY_ADDRESS`), else a local one it starts and stops. Tasks go out in chunks; each Ray worker
process builds the call's runner (`factory(*args)`: an env and agents) once and keeps it for the
call's later chunks and for later calls with an equal runner (an audit's batches). Results come
back to the driver, which does all the writing (episodes.jsonl, the SQLite leaderboard, a
sweep's result files), so for the same seeds the numbers and files are those of the local
executors.

Faults: Ray retries a chunk whose worker process or node died (`max_retries`). A chunk that still
fails is split into single tasks, each retried the same way; a single task that fails every time
is replayed in a local isolated worker process (`rollout/workers.py`), which either returns its
result (the cause lay with the cluster) or names the culprit exactly as the process executor does
(a tournament entrant whose move kills its process forfeits).

Ray is an optional extra (`pip install 'testbed[ray]'`); it is imported only here, when used.
"""

from __future__ import annotations

import itertools
import logging
import operator
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from testbed.errors import BadInput
from testbed.rollout.executor import EpisodesByTask
from testbed.rollout.reaper import Reaper
from testbed.rollout.workers import WorkerDied, WorkerPool, call_key, portable_exception

MAX_RETRIES = 3
"""Ray's retries of a chunk whose worker process or node died."""
CHUNKS_PER_CPU = 4
"""Chunk size aims at this many chunks per cluster CPU (fewer, larger chunks: less overhead;
more: better balance and less work redone after a loss)."""
MAX_CHUNK = 64

_runners: dict[str, Any] = {}  # in a Ray worker process: the current call's runner, by key
_reaper: Reaper | None = None  # stops the local cluster this process started, if any


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BadInput(
            "the Ray executor needs Ray, which is not installed",
            hint="pip install 'testbed[ray]'",
        ) from None
    return ray


def connect(address: str | None = None, cpus: int | None = None) -> Any:
    """The `ray` module, connected: to `address` (or `RAY_ADDRESS`) when given, else to a
    local cluster of `cpus` CPUs started now (and stopped by `shutdown`)."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
    }
    try:
        if address:
            _check_reachable(address)
            ray.init(address=address, **options)
        else:
            _start_local(ray, cpus or os.cpu_count() or 1, options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise BadInput(
            f"cannot connect to the Ray cluster at {address!r}: {exc}",
            hint="start one with `ray start --head`, or drop --address to start a local one",
        ) from None
    return ray


def _start_local(ray: Any, cpus: int, options: dict[str, Any]) -> None:
    """A local cluster whose every process ends with this one (`reaper.py`)."""
    global _reaper
    _reaper = Reaper()
    _reaper.mark()
    try:
        # "local": always a new instance, never one that another job on this machine started
        ray.init(address="local", num_cpus=cpus, **options)
    except BaseException:
        _reaper.close()
        _reaper = None
        raise
    finally:
        if _reaper is not None:
            _reaper.unmark()


def _check_reachable(address: str) -> None:
    """A `host:port` that nothing listens on is bad input at once (Ray itself would retry
    for a minute); `auto` and `ray://` client addresses are left to Ray."""
    host, _, port = address.rpartition(":")
    if address == "auto" or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=2).close()
    except OSError as exc:
        raise BadInput(
            f"cannot connect to the Ray cluster at {address!r}: {exc.strerror or exc}",
            hint="start one with `ray start --head` (it prints the address), or drop "
            "--address to start a local one",
        ) from None


def shutdown() -> None:
    """Disconnect from Ray; a local cluster this process started stops with it, all of it."""
    global _reaper
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()
    if _reaper is not None:
        _reaper.close()
        _reaper = None


def cluster_cpus() -> int:
    ray = _ray()
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _run_chunk(setup: tuple[str, Callable, tuple], items: list[tuple[int, tuple]]) -> list:
    """In a Ray worker: run `items` [(position, task)] on the call's runner; one outcome per
    item, (position, "ok" | "error", value), stopping at the first error."""
    key, factory, args = setup
    runner = _runners.get(key)
    if runner is None:
        for old in _runners.values():
            old.close()
        _runners.clear()
        try:
            runner = _runners[key] = factory(*args)
        except BaseException as exc:  # bad input or a broken env: the driver raises it
            return [(items[0][0], "error", portable_exception(exc))]
    outcomes = []
    for position, task in items:
        try:
            outcomes.append((position, "ok", runner.run(*task)))
        except BaseException as exc:
            outcomes.append((position, "error", portable_exception(exc)))
            break
    return outcomes


class RayExecutor(EpisodesByTask):
    """Runs `imap_tasks` as Ray tasks (see the module docstring); `workers` caps the chunks
    in flight at twice its value (default: the cluster's CPUs)."""

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        *,
        memory_limit_mb: int | None = None,
        max_retries: int = MAX_RETRIES,
    ):
        self.address = address
        self.requested = workers
        self.memory_limit_mb = memory_limit_mb
        self.max_retries = max_retries
        self._remote: Any = None

    @property
    def workers(self) -> int:
        connect(self.address, self.requested)
        return self.requested or cluster_cpus()

    def _submit(self, setup: Any, items: list[tuple[int, tuple]]) -> Any:
        ray = _ray()
        if self._remote is None:
            self._remote = ray.remote(num_cpus=1, max_retries=self.max_retries)(_run_chunk)
        return self._remote.remote(setup, items)

    def imap_tasks(
        self, factory: Callable[..., Any], args: tuple, tasks: Iterable[tuple]
    ) -> Iterator[tuple[int, Any]]:
        """Yield (position in `tasks`, result or WorkerDied) as chunks finish; `tasks` is read
        lazily, at most `2 * workers` chunks ahead."""
        ray = connect(self.address, self.requested)
        workers = self.workers
        hint = operator.length_hint(tasks, 0)
        chunk = max(1, min(MAX_CHUNK, hint // (workers * CHUNKS_PER_CPU))) if hint else 1
        setup = ray.put((call_key(factory, args), factory, args))
        numbered = enumerate(tasks)
        pending: dict[Any, list[tuple[int, tuple]]] = {}
        try:
            while True:
                while len(pending) < 2 * workers:
                    items = list(itertools.islice(numbered, chunk))
                    if not items:
                        break
                    pending[self._submit(setup, items)] = items
                if not pending:
                    return
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    items = pending.pop(ref)
                    try:
                        outcomes = ray.get(ref)
                    except ray.exceptions.RayTaskError:
                        raise
                    except ray.exceptions.RayError as exc:  # the process or node was lost
                        if len(items) > 1:
                            for item in items:
                                pending[self._submit(setup, [item])] = [item]
                            continue
                        yield from self._replay(factory, args, items, exc)
                        continue
                    for position, status, value in outcomes:
                        if status != "ok":
                            raise value
                        yield position, value
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def _replay(
        self, factory: Callable, args: tuple, items: list[tuple[int, tuple]], error: Exception
    ) -> Iterator[tuple[int, Any]]:
        """A task Ray could not finish, run again in a local isolated worker process."""
        ((position, task),) = items
        pool = WorkerPool(1, memory_limit_mb=self.memory_limit_mb)
        try:
            for _, outcome in pool.imap_unordered(factory, args, [task]):
                if isinstance(outcome, WorkerDied):
                    reason = f"{outcome.reason} (on Ray: {type(error).__name__})"
                    outcome = WorkerDied(reason, outcome.activity)
                yield position, outcome
        finally:
            pool.close()

    def close(self) -> None:
        return None  # the run disconnects (runner: ray_executor.shutdown)
