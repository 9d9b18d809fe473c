"""Vector envs in worker processes.

`SubprocVecEnv` splits N copies over W worker processes, each stepping its share of copies as
a `SyncVecEnv` (with the copies' global indices, so seeds are those of any other
implementation); the parent sends actions and concatenates the steps. It pays for slow envs
(Safety-Gymnasium's MuJoCo tasks) where stepping dominates; for fast ones the pipe costs more
than it saves. Workers die with the parent (as testbed/rollout/workers.py's).
"""

from __future__ import annotations

import builtins
import contextlib
import multiprocessing
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from testbed.errors import RunFailed
from testbed.rollout.vector import Batch, SyncVecEnv, VecObs, VecStep
from testbed.rollout.workers import _die_with_parent


def _shard_main(conn: Any, make: Callable, copies: range, max_steps: int | None, parent: int
                ) -> None:  # fmt: skip
    _die_with_parent(parent)
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    env = None
    try:
        env = SyncVecEnv(make, len(copies), max_steps, first_copy=copies.start)
        conn.send(("ok", None))
        while True:
            command, payload = conn.recv()
            if command == "reset":
                conn.send(("ok", env.reset(payload)))
            elif command == "step":
                conn.send(("ok", env.step(payload)))
            else:
                break
    except EOFError:
        pass
    except BaseException as exc:  # the parent raises it (by name: its class may not import)
        with contextlib.suppress(OSError, ValueError):
            conn.send(("error", (type(exc).__module__, type(exc).__name__, str(exc))))
    finally:
        if env is not None:
            env.close()
        conn.close()


class SubprocVecEnv:
    """N copies over `workers` processes (see the module docstring)."""

    def __init__(
        self,
        make: Callable[[], Any],
        num_envs: int,
        workers: int | None = None,
        max_steps: int | None = None,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        workers = max(1, min(num_envs, workers or os.cpu_count() or 1))
        probe = make()
        self.possible_agents = list(probe.possible_agents)
        self._spaces = {a: (probe.observation_space(a), probe.action_space(a))
                        for a in self.possible_agents}  # fmt: skip
        probe.close()
        self.num_envs = num_envs
        bounds = np.linspace(0, num_envs, workers + 1).round().astype(int)
        self.shards = [range(int(a), int(b)) for a, b in zip(bounds, bounds[1:], strict=False)]
        context = multiprocessing.get_context("spawn")
        self.conns, self.processes = [], []
        for copies in self.shards:
            conn, child = context.Pipe()
            process = context.Process(
                target=_shard_main,
                args=(child, make, copies, max_steps, os.getpid()),
                daemon=True,
            )
            process.start()
            child.close()
            self.conns.append(conn)
            self.processes.append(process)
        try:
            self._receive_all()  # each worker built its copies
        except BaseException:
            self.close()
            raise

    def observation_space(self, agent: str) -> Any:
        return self._spaces[agent][0]

    def action_space(self, agent: str) -> Any:
        return self._spaces[agent][1]

    def _receive_all(self) -> list[Any]:
        """Every worker's answer; a worker's error is raised here: a built-in exception
        (ValueError, AssertionError, ...) as its own type, any other as RunFailed."""
        answers, failure = [], None
        for conn, process in zip(self.conns, self.processes, strict=True):
            try:
                status, payload = conn.recv()
            except (EOFError, OSError):
                process.join(1)
                status, payload = "error", ("", "WorkerDied", f"exit code {process.exitcode}")
            if status == "error" and failure is None:
                failure = payload
            answers.append(payload)
        if failure is None:
            return answers
        module, name, message = failure
        text = f"an env worker process failed: {name}: {message}"
        kind = getattr(builtins, name, None) if module == "builtins" else None
        error: Exception = RunFailed(text)
        if isinstance(kind, type) and issubclass(kind, Exception):
            with contextlib.suppress(Exception):  # one that takes no single message stays
                error = kind(text)
        raise error

    def reset(self, seed: int) -> VecObs:
        for conn in self.conns:
            conn.send(("reset", seed))
        return _concat_obs(self._receive_all())

    def step(self, actions: Batch) -> VecStep:
        for conn, copies in zip(self.conns, self.shards, strict=True):
            conn.send(("step", {a: v[copies.start : copies.stop] for a, v in actions.items()}))
        parts = self._receive_all()
        cat = {
            name: {
                a: np.concatenate([getattr(p, name)[a] for p in parts])
                for a in self.possible_agents
            }
            for name in ("rewards", "costs", "terminated", "truncated")
        }
        current = _concat_obs([VecObs(p.observations, p.action_masks) for p in parts])
        return VecStep(
            current.observations,
            current.action_masks,
            cat["rewards"],
            cat["costs"],
            cat["terminated"],
            cat["truncated"],
            np.concatenate([p.done for p in parts]),
            _concat_obs([p.final for p in parts]),
        )

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(("close", None))
            except (OSError, ValueError):
                pass
        for process in self.processes:
            process.join(2)
            if process.is_alive():
                process.kill()
                process.join(2)
        for conn in self.conns:
            conn.close()
        self.conns = []


def _concat_obs(parts: list[VecObs]) -> VecObs:
    agents = list(parts[0].observations)
    masks = {}
    for a in agents:
        rows = [p.action_masks.get(a) for p in parts]
        masks[a] = None if rows[0] is None else np.concatenate(rows)
    return VecObs({a: np.concatenate([p.observations[a] for p in parts]) for a in agents}, masks)
