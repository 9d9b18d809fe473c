"""Worker processes that outlive their tasks' faults, and never outlive their parent.

`WorkerPool` runs tasks in up to `size` spawned processes that live as long as the pool, so a
run's stages reuse them. Each call of `imap_unordered(factory, args, tasks)` has its workers
build its runner (`factory(*args)`: an env and agents) once, then run the tasks sent to them in
order, `DEPTH` of them queued so that a worker never waits for the parent between tasks. Unlike
`concurrent.futures.ProcessPoolExecutor`,
where one dead worker breaks the whole pool, a worker that dies (a native crash,
`os.kill(os.getpid(), 9)`, `sys.exit`, the memory limit, a move that will not stop) fails only
the task it was running (the first of its queue without an answer): that task's outcome is a
`WorkerDied` naming the reason and what the task was doing, the tasks queued behind it go to
other workers, and a fresh worker takes the dead one's place. A task whose worker died while
it reported no activity is retried once on a fresh worker (the cause may lie outside the
task, e.g. a kill from outside).

- **Memory**: the parent reads each busy worker's resident memory (Linux /proc) every
  `POLL_SECONDS` and stops a worker above `memory_limit_mb`.
- **Activity**: code in a worker calls `report_activity(label, limit)` before a guarded call
  (a tournament entrant's move) and `clear_activity()` after; the parent reads it from shared
  memory when the worker dies, and stops a worker whose activity runs `GRACE_SECONDS` past its
  own limit (a hang that the in-worker timer cannot interrupt).
- **Lifetime**: workers ignore SIGINT/SIGTERM (the parent stops them), ask the kernel to kill
  them when the parent dies (`PR_SET_PDEATHSIG`), and watch the parent's pid as a fallback, so
  `kill -9` of the parent leaves no worker behind.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import pickle
import signal
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing import connection
from typing import Any

from testbed.errors import RunFailed

POLL_SECONDS = 0.2
GRACE_SECONDS = 5.0
DEPTH = 2  # tasks queued per worker
ACTIVITY_BYTES = 1024


@dataclass(frozen=True)
class WorkerDied:
    """The outcome of a task whose worker process died before returning."""

    reason: str
    activity: dict[str, Any] | None = None
    """What the task reported doing when the worker died (None: nothing reported)."""


def default_memory_limit_mb(workers: int) -> int:
    """4 GiB per worker, or less so that all workers and this process fit in the RAM."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError):
        return 4096
    return int(max(256, min(4096, total // (workers + 1))))


# ---------------------------------------------------------------------------------------------
# Inside a worker

_activity: Any = None  # (label array, start time, limit) while this process is a worker


def report_activity(label: dict[str, Any], limit: float | None = None) -> None:
    """Tell the parent what this worker is about to do (a no-op outside workers)."""
    if _activity is None:
        return
    text, started, allowed = _activity
    data = json.dumps(label).encode()[: ACTIVITY_BYTES - 1]
    text.value = data
    allowed.value = float(limit or 0.0)
    started.value = time.monotonic()


def clear_activity() -> None:
    if _activity is not None:
        _activity[0].value = b""


def _die_with_parent(parent: int) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when the parent dies
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def _worker_main(conn: Any, activity: Any, parent: int) -> None:
    """Messages: ("setup", factory, args) builds the runner of the next tasks (closing the
    previous one); ("task", position, task) runs one; None stops."""
    global _activity
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _activity = activity
    runner, broken = None, None
    try:
        while True:
            message = conn.recv()
            if message is None:
                break
            if message[0] == "setup":
                if runner is not None:
                    runner.close()
                runner, broken = None, None
                try:
                    runner = message[1](*message[2])
                except BaseException as exc:  # bad input or a broken env: the parent raises it
                    broken = portable_exception(exc)
                continue
            _, position, task = message
            if runner is None:
                conn.send(("fatal", position, broken))
                continue
            try:
                result = runner.run(*task)
            except BaseException as exc:
                conn.send(("error", position, portable_exception(exc)))
            else:
                conn.send(("ok", position, result))
            finally:
                clear_activity()
    except EOFError:
        pass
    finally:
        if runner is not None:
            runner.close()


def portable_exception(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a RunFailed that says what it was;
    a task's `sys.exit` (or other BaseException) is a failure of the run, not an exit."""
    if isinstance(exc, SystemExit):
        return RunFailed(f"the task called sys.exit({exc.code})")
    if not isinstance(exc, Exception):
        return RunFailed(f"the task raised {type(exc).__name__}: {exc}")
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RunFailed(f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------------------------
# In the parent


class _Worker:
    def __init__(self, context: Any):
        self.label = context.RawArray("c", ACTIVITY_BYTES)
        self.started = context.RawValue("d", 0.0)
        self.limit = context.RawValue("d", 0.0)
        self.conn, child = context.Pipe()
        activity = (self.label, self.started, self.limit)
        self.process = context.Process(
            target=_worker_main,
            args=(child, activity, os.getpid()),
            daemon=True,
        )
        self.process.start()
        child.close()
        self.queue: deque[tuple[int, tuple, int]] = deque()  # (position, task, attempt), in order
        self.checked = 0.0  # when its memory and activity were last looked at
        self.call: str | None = None  # the key of the runner it holds

    def send(self, call: str, factory: Callable, args: tuple, item: tuple) -> None:
        """Queue a task of `call`, building that call's runner first if needed."""
        if self.call != call:
            self.conn.send(("setup", factory, args))
            self.call = call
        self.queue.append(item)
        self.conn.send(("task", item[0], item[1]))

    def activity(self) -> dict[str, Any] | None:
        raw = self.label.value
        return json.loads(raw) if raw else None

    def overran(self) -> str | None:
        """Why the worker must be stopped now, or None."""
        activity = self.activity()
        if activity is not None and self.limit.value > 0:
            took = time.monotonic() - self.started.value
            if took > self.limit.value + GRACE_SECONDS:
                return (
                    f"unresponsive: a call ran {took:.1f} s, past its limit of "
                    f"{self.limit.value:g} s (the worker process was stopped)"
                )
        return None

    def stop(self, wait: float = 1.0) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                pass
            self.process.join(wait)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _death(process: Any) -> str:
    process.join(2)
    code = process.exitcode
    if code is None:
        return "the worker process stopped answering"
    if code < 0:
        name = signal.Signals(-code).name
        return f"the worker process was killed by signal {-code} ({name})"
    if code == 0:
        return "the worker process exited (sys.exit or os._exit during the task?)"
    return f"the worker process exited with code {code}"


def call_key(factory: Callable, args: tuple) -> str:
    """Equal for calls with equal runners: a worker keeps its runner for the next such call
    (an audit's batches, a stage's episodes after a resume)."""
    return hashlib.sha256(pickle.dumps((factory, args))).hexdigest()


class WorkerPool:
    """Up to `size` worker processes, reused by every `imap_unordered` call until `close`
    (see the module docstring)."""

    def __init__(self, size: int, *, memory_limit_mb: int | None = None):
        self.size = max(1, size)
        self.memory_limit_mb = memory_limit_mb or default_memory_limit_mb(self.size)
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []
        weakref.finalize(self, _stop_all, self.workers)  # a pool nobody closed

    def imap_unordered(
        self, factory: Callable, args: tuple, tasks: Iterable[tuple]
    ) -> Iterator[tuple[int, Any]]:
        """Yield (position in `tasks`, result or WorkerDied) of `factory(*args).run(*task)`
        as tasks finish. Workers left idle stay, with their runner, for the next call; a call
        abandoned early (an error, a consumer that stops) stops the workers still busy with
        it."""
        call = call_key(factory, args)
        todo: Iterator[tuple[int, tuple, int]] = ((p, t, 0) for p, t in enumerate(tasks))
        retries: list[tuple[int, tuple, int]] = []
        try:
            while True:
                self._dispatch(call, factory, args, todo, retries)
                busy = [w for w in self.workers if w.queue]
                if not busy:
                    return
                ready = connection.wait(
                    [w.conn for w in busy] + [w.process.sentinel for w in busy],
                    timeout=POLL_SECONDS,
                )
                for worker in busy:
                    outcome = self._check(worker, ready)
                    if outcome is not None:
                        yield from self._settle(worker, outcome, retries)
        finally:
            for worker in [w for w in self.workers if w.queue]:
                self.workers.remove(worker)
                worker.stop(wait=0)

    def _dispatch(
        self, call: str, factory: Callable, args: tuple, todo: Iterator, retries: list
    ) -> None:
        """Fill every worker's queue, starting workers up to `size` while tasks remain."""
        while True:
            worker = min(self.workers, key=lambda w: len(w.queue), default=None)
            if len(self.workers) < self.size and (worker is None or worker.queue):
                worker = None  # start another worker before queueing a second task
            elif worker is None or len(worker.queue) >= DEPTH:
                return
            item = retries.pop(0) if retries else next(todo, None)
            if item is None:
                return
            worker = worker or self._spawn()
            worker.send(call, factory, args, item)

    def _spawn(self) -> _Worker:
        worker = _Worker(self.context)
        self.workers.append(worker)
        return worker

    def _check(self, worker: _Worker, ready: list) -> tuple[str, Any] | None:
        """('message', msg) when the worker answered, ('died', WorkerDied) when it is gone."""
        if worker.conn in ready or worker.conn.poll():
            try:
                return "message", worker.conn.recv()
            except (EOFError, OSError):
                pass
        if worker.process.sentinel in ready or not worker.process.is_alive():
            return "died", WorkerDied(_death(worker.process), worker.activity())
        now = time.monotonic()
        if now - worker.checked < POLL_SECONDS:
            return None
        worker.checked = now
        rss = _rss_mb(worker.process.pid)
        reason = None
        if rss > self.memory_limit_mb:
            reason = (
                f"the worker process used {rss:.0f} MB, over the memory limit of "
                f"{self.memory_limit_mb} MB (it was stopped)"
            )
        reason = reason or worker.overran()
        if reason is None:
            return None
        activity = worker.activity()
        worker.process.kill()
        worker.process.join(5)
        return "died", WorkerDied(reason, activity)

    def _settle(
        self, worker: _Worker, outcome: tuple[str, Any], retries: list
    ) -> Iterator[tuple[int, Any]]:
        position, task, attempt = worker.queue.popleft()
        kind, value = outcome
        if kind == "message":
            status, _, payload = value
            if status == "ok":
                yield position, payload
                return
            raise payload  # "error" (the task raised) or "fatal" (the runner did not build)
        self.workers.remove(worker)
        worker.stop(wait=0)
        retries.extend(worker.queue)  # queued behind the dead task, never started
        if value.activity is None and attempt == 0:
            retries.append((position, task, 1))  # not the task's own doing, maybe: once more
            return
        yield position, value

    def close(self) -> None:
        """Stop every worker (those busy at once); wait for none longer than a second. The
        pool can be used again (it starts new workers)."""
        _stop_all(self.workers)


def _stop_all(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.stop(wait=0 if worker.queue else 1.0)
    workers.clear()
