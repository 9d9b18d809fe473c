"""Vector envs in worker processes, and `make_vec_env`, which picks an implementation.

`SubprocVecEnv` splits N copies over W worker processes, each stepping its share of copies as
a `SyncVecEnv` (with the copies' global indices, so seeds are those of any other
implementation); the parent sends actions and concatenates the steps. It pays for slow envs
(Safety-Gymnasium's MuJoCo tasks) where stepping dominates; for fast ones the pipe costs more
than it saves. Workers die with the parent (as testbed/rollout/workers.py's).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from testbed.errors import BadInput
from testbed.rollout.vector import Batch, SyncVecEnv, VecEnv, VecObs, VecStep
from testbed.rollout.workers import _die_with_parent

Vectorization = Literal["auto", "native", "sync", "subprocess"]


def _shard_main(conn: Any, make: Callable, copies: range, max_steps: int | None, parent: int
                ) -> None:  # fmt: skip
    _die_with_parent(parent)
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    env = SyncVecEnv(make, len(copies), max_steps, first_copy=copies.start)
    try:
        while True:
            command, payload = conn.recv()
            if command == "reset":
                conn.send(env.reset(payload))
            elif command == "step":
                conn.send(env.step(payload))
            else:
                break
    except EOFError:
        pass
    finally:
        env.close()


class SubprocVecEnv:
    """N copies over `workers` processes (see the module docstring)."""

    def __init__(
        self,
        make: Callable[[], Any],
        num_envs: int,
        workers: int | None = None,
        max_steps: int | None = None,
    ):
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

    def observation_space(self, agent: str) -> Any:
        return self._spaces[agent][0]

    def action_space(self, agent: str) -> Any:
        return self._spaces[agent][1]

    def reset(self, seed: int) -> VecObs:
        for conn in self.conns:
            conn.send(("reset", seed))
        return _concat_obs([conn.recv() for conn in self.conns])

    def step(self, actions: Batch) -> VecStep:
        for conn, copies in zip(self.conns, self.shards, strict=True):
            conn.send(("step", {a: v[copies.start : copies.stop] for a, v in actions.items()}))
        parts = [conn.recv() for conn in self.conns]
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


def _concat_obs(parts: list[VecObs]) -> VecObs:
    agents = list(parts[0].observations)
    masks = {}
    for a in agents:
        rows = [p.action_masks.get(a) for p in parts]
        masks[a] = None if rows[0] is None else np.concatenate(rows)
    return VecObs({a: np.concatenate([p.observations[a] for p in parts]) for a in agents}, masks)


def make_vec_env(
    env_id: str,
    num_envs: int,
    *,
    vectorization: Vectorization = "auto",
    max_steps: int | None = None,
    make: Callable[[], Any] | None = None,
    **params: Any,
) -> VecEnv:
    """`num_envs` copies of the env registered as `env_id`: its native batched implementation
    when there is one (`EnvSpec.vector`; `auto` or `native`), else copies in this process
    (`sync`) or in worker processes (`subprocess`). `make` builds one copy for the generic
    implementations (default: `registry.make_env(env_id, **params)`)."""
    from testbed import registry

    spec = registry.ENVS.get(env_id)
    native = getattr(spec, "vector", None)
    if vectorization == "native" and native is None:
        raise BadInput(
            f"env {env_id!r} has no native batched implementation",
            hint="use vectorization: sync (copies in this process) or subprocess",
        )
    if native is not None and vectorization in ("auto", "native"):
        factory = registry.load_reference(native)
        return factory(num_envs, **params, max_steps=max_steps)
    one = make or functools.partial(registry.make_env, env_id, **params)
    if vectorization == "subprocess":
        return SubprocVecEnv(one, num_envs, max_steps=max_steps)
    return SyncVecEnv(one, num_envs, max_steps)
