"""Helpers for tests that run `testbed` as a child process: start it, wait for a condition,
stop it with a signal, and find the worker processes it leaves (Linux /proc)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
FAULTY = SUPPORT / "faulty_agents.py"


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    """`testbed ARGS` as a child process (its own session, so signals reach only it)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "testbed", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {seconds} s")


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def workers_of(pid: int) -> list[int]:
    """Child processes other than multiprocessing's resource tracker (one helper per process,
    which ends when its parent does)."""
    found = []
    for child in children_of(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in command:
            found.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def stop(process: subprocess.Popen, signum: int = signal.SIGTERM, seconds: float = 30) -> float:
    """Send `signum`; seconds until the process exited."""
    started = time.perf_counter()
    process.send_signal(signum)
    process.wait(timeout=seconds)
    return time.perf_counter() - started
