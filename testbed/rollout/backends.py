"""Which executor runs a stage's tasks: in this process, in local worker processes, or on Ray."""

from __future__ import annotations

from typing import Literal

from testbed.rollout.executor import Executor, LocalExecutor, ProcessExecutor
from testbed.rollout.ray_executor import RayExecutor

Backend = Literal["local", "ray"]


def make_executor(
    workers: int | None,
    *,
    isolated: bool = False,
    memory_limit_mb: int | None = None,
    backend: Backend = "local",
    address: str | None = None,
    retries: int = 3,
) -> Executor:
    """Ray when asked for (`workers` None: every CPU of the cluster); locally, in this process
    for one worker unless `isolated` (tasks that may crash hard), else worker processes."""
    if backend == "ray":
        return RayExecutor(address, workers, memory_limit_mb=memory_limit_mb, max_retries=retries)
    workers = workers or 1
    if workers <= 1 and not isolated:
        return LocalExecutor()
    return ProcessExecutor(workers, memory_limit_mb=memory_limit_mb)
