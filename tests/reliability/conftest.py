"""The `cli` fixture: `testbed` in-process, with its exit code, output and time. Child-process
helpers (signals, kill -9) are in tests/support/processes.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from testbed.cli import main


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    seconds: float

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def cli(capsys) -> Callable[..., Outcome]:
    """Run `testbed ARGS` in this process; the exit code, stdout, stderr and seconds."""

    def call(*args: str) -> Outcome:
        started = time.perf_counter()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err, time.perf_counter() - started)

    return call
