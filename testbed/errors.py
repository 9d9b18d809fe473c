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
    """Invalid scenario, unknown id, wrong space or missing file: exit code 2.

    One BadInput may carry several problems (every error of a file at once): `problems` lists
    them, each with its own `where` and `hint`; `render()` shows one per line."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        self.others: list[BadInput] = []
        super().__init__(self.render())

    @property
    def problems(self) -> list[BadInput]:
        return [self, *self.others]

    @classmethod
    def combine(cls, problems: list[BadInput]) -> BadInput:
        """One error holding every problem (in order, repeated ones once)."""
        unique: dict[str, BadInput] = {}
        for problem in problems:
            for one in problem.problems:
                unique.setdefault(one.render_one(), one)
        first, *others = unique.values()
        combined = cls(first.message, where=first.where, hint=first.hint)
        combined.others = others
        combined.args = (combined.render(),)
        return combined

    def render_one(self) -> str:
        head = f"{self.where}: {self.message}" if self.where else self.message
        return f"{head}\n  hint: {self.hint}" if self.hint else head

    def render(self) -> str:
        return "\n".join(p.render_one() for p in self.problems)


class RunFailed(TestbedError):
    """An env or agent crashed past what the scenario tolerates: exit code 3."""

    exit_code = 3


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM from `docker stop` or a CI time-out, SIGINT
    from Ctrl-C, SIGHUP): finished work is kept and the run can be resumed."""

    def __init__(self, signum: int):
        import signal

        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"stopped by {self.signal_name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def exception_text(exc: BaseException) -> str:
    """The exception's message; for one without a message (a bare `assert`), its type and the
    line that raised it, so the user still learns something."""
    text = str(exc).strip()
    if text:
        return text
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    line = f" ({last.line.strip()})" if last.line else ""
    return f"{type(exc).__name__} at {last.filename}:{last.lineno}{line}"
