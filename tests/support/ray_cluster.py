"""A real Ray cluster on loopback for tests: `ray start --head` in its own temp dir, stopped
by killing exactly its processes (never `ray stop`, which stops every cluster of the machine)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}  # loopback only: no token to share


def start_head(cpus: int = 2) -> tuple[str, str]:
    """(address, temp dir) of a head node started now."""
    temp = tempfile.mkdtemp(prefix="tbray", dir="/tmp")  # short: Ray's socket paths
    started = subprocess.run(
        [RAY, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", "0",
         "--num-cpus", str(cpus), "--include-dashboard", "false", "--disable-usage-stats",
         "--temp-dir", temp],
        env=ENV, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    found = re.search(r"ray start --address='[^:']*:(\d+)'", started.stdout + started.stderr)
    if started.returncode != 0 or found is None:
        stop(temp)
        raise RuntimeError(f"ray start failed:\n{started.stdout}\n{started.stderr}")
    return f"127.0.0.1:{found.group(1)}", temp


def processes_of(temp: str) -> list[int]:
    """Pids of the processes whose command line names the cluster's temp dir, and of all
    their descendants (Ray's agents rename themselves, e.g. `ray::DashboardAgent`)."""
    parents, named = {}, set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        if temp.encode() in command:
            named.add(int(entry.name))
    found, grew = set(named), True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop(temp: str) -> None:
    """Kill the cluster's processes (TERM, then KILL) and remove its temp dir."""
    doomed = processes_of(temp)  # now: killed children are re-parented, out of the tree
    for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):
        for pid in doomed:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while any(alive(pid) for pid in doomed) and time.monotonic() < deadline:
            time.sleep(0.2)
    shutil.rmtree(temp, ignore_errors=True)
