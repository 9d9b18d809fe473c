"""Entrants that misbehave, for fault-isolation tests: they play legal random moves until
move `fail_at`, then raise, hang, or return an illegal action."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FaultyConfig:
    fail_at: int = 3
    """The move (counted per game from 0) at which the fault happens."""


class _Faulty:
    Config = FaultyConfig

    def __init__(self, observation_space: Any, action_space: Any, config: Any = None):
        self.config = config or FaultyConfig()
        self.space = action_space
        self.moves = 0

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.moves = 0

    def act(self, observation: Any, action_mask: Any = None) -> Any:
        self.moves += 1
        if self.moves > self.config.fail_at:
            return self.fault(action_mask)
        legal = np.flatnonzero(action_mask)
        return np.int64(legal[self.rng.integers(legal.size)])


class Crashing(_Faulty):
    def fault(self, mask: Any) -> Any:
        raise RuntimeError("boom")


class Hanging(_Faulty):
    def fault(self, mask: Any) -> Any:
        time.sleep(600)


class Illegal(_Faulty):
    def fault(self, mask: Any) -> Any:
        return np.int64(np.flatnonzero(np.asarray(mask) == 0)[0])


class KillsItself(_Faulty):
    """A native crash, as far as the harness can tell: the process dies by SIGKILL."""

    def fault(self, mask: Any) -> Any:
        import os
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


class Exits(_Faulty):
    def fault(self, mask: Any) -> Any:
        import sys

        sys.exit(0)


class Hungry(_Faulty):
    """Allocates memory without bound (touching it, so it is resident)."""

    def fault(self, mask: Any) -> Any:
        hoard = []
        while True:
            hoard.append(np.ones(2**24, dtype=np.uint8))  # 16 MB at a time


class Stuck(_Faulty):
    """Hangs where the per-move timer cannot reach it (SIGALRM blocked, as C code may do)."""

    def fault(self, mask: Any) -> Any:
        import signal

        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(600)
