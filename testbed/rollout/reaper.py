"""A watchdog that stops a local Ray cluster's processes when the process that started it ends,
however it ends (`kill -9` included).

Ray stops the raylet and workers of a local cluster with its driver, but its agents (renamed
`ray::DashboardAgent`, `ray::RuntimeEnvAgent`) outlive a killed driver. Every process of the
cluster inherits an environment variable naming it; the watchdog, a tiny child process, waits
for its stdin pipe to close (the driver's exit closes it) and then kills every process whose
environment holds that name.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import IO

MARKER = "TESTBED_RAY_CLUSTER"

_WATCH = r"""
import os, signal, sys, time
name, driver = sys.argv[1].encode(), int(sys.argv[2])
sys.stdin.buffer.read()  # returns when the driver's end of the pipe closes

def marked():
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (os.getpid(), driver):
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if name in f.read().split(b"\0"):
                        pids.append(int(entry))
            except OSError:
                pass
    return pids

for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 0.0)):
    for pid in marked():
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    deadline = time.monotonic() + wait
    while marked() and time.monotonic() < deadline:
        time.sleep(0.1)
"""


class Reaper:
    """Marks the processes started while it is `marking()`; kills them when this process ends
    or `close()` is called."""

    def __init__(self) -> None:
        self.entry = f"{MARKER}={uuid.uuid4().hex}"
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WATCH, self.entry, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C of the terminal must not stop it first
        )

    def mark(self) -> None:
        """Processes started from now on carry the mark (until `unmark`)."""
        os.environ[MARKER] = self.entry.split("=", 1)[1]

    def unmark(self) -> None:
        os.environ.pop(MARKER, None)

    def close(self, wait: float = 10.0) -> None:
        """Kill the marked processes now and wait for the watchdog to finish."""
        stdin: IO[bytes] | None = self.process.stdin
        if stdin is not None and not stdin.closed:
            stdin.close()
        try:
            self.process.wait(wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
