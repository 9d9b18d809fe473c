"""Task runners for worker-pool tests (importable by spawned workers)."""

from __future__ import annotations

import os
import uuid


class Tagged:
    """Returns (worker pid, this runner's tag, task); a new runner has a new tag."""

    def __init__(self, label: str):
        self.label = label
        self.tag = uuid.uuid4().hex

    def run(self, task: int) -> tuple[int, str, int]:
        return os.getpid(), self.tag, task

    def close(self) -> None:
        return None
