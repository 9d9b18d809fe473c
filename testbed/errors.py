"""Errors a user can cause, and errors of the run itself, each with its exit code.

The command line prints one message for these and exits with `exit_code`; it never shows a
traceback for them (ARCHITECTURE.md, exit codes).
"""

from __future__ import annotations


class TestbedError(Exception):
    """Base of the errors the command line turns into a message and an exit code."""

    exit_code = 3
    __test__ = False  # not a pytest test class, despite the name


class BadInput(TestbedError):
    """Invalid scenario, unknown id, wrong space or missing file: exit code 2."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.where}: {self.message}" if self.where else self.message
        return f"{head}\n  hint: {self.hint}" if self.hint else head


class RunFailed(TestbedError):
    """An env or agent crashed past what the scenario tolerates: exit code 3."""

    exit_code = 3
