"""Calls to a language model: cached on disk, rate-limited, timed out, and counted.

The cache key is the SHA-256 of (backend kind, model identity, messages, sampling
parameters); the identity is the endpoint and model name for `openai`, the resolved folder
and a digest of its files for `transformers`. An entry
is one JSON file `<cache_dir>/<key[:2]>/<key>.json` holding the text and what the original call
cost. A hit makes no call and costs no tokens (sampled answers are cached too: with the same
seed the same prompt gets the same answer, which keeps runs reproducible). The rate limit spaces
the starts of real calls at least 1 / `calls_per_s` apart, shared by every client of the same
backend, model identity and rate in one process (worker processes each keep their own).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from testbed.agents.llm.model import (
    Completion,
    LanguageModel,
    LanguageModelError,
    Messages,
    Sampling,
)

log = logging.getLogger("testbed.llm")


@dataclass
class Usage:
    """What a run of calls cost (per episode, or in total)."""

    queries: int = 0
    """Answers asked for (calls + cache hits + failures)."""
    calls: int = 0
    """Answers the model produced (not from the cache)."""
    cache_hits: int = 0
    failures: int = 0
    """Calls that gave no answer (timeout, connection, HTTP error)."""
    fallbacks: int = 0
    """Answers (or failures) that gave no action: the fallback acted instead."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    """Seconds spent in real calls (waits for the rate limit not included)."""

    def add(self, other: Usage) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, float]:
        out: dict[str, float] = {f"llm_{k}": v for k, v in asdict(self).items()}
        out["llm_tokens"] = self.prompt_tokens + self.completion_tokens
        return out


class RateLimiter:
    """At most `rate` call starts per second (0: unlimited); thread-safe."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self.next_start = float("-inf")
        self.lock = threading.Lock()

    def wait(self) -> float:
        """Block until the next call may start; the seconds waited."""
        with self.lock:
            now = self.clock()
            start = max(now, self.next_start)
            self.next_start = start + self.interval
        if start > now:
            self.sleep(start - now)
        return max(0.0, start - now)


_LIMITERS: dict[tuple[str, str, float], RateLimiter] = {}


def shared_limiter(kind: str, name: str, rate: float) -> RateLimiter:
    """One limiter per (backend, model, rate) in this process."""
    key = (kind, name, float(rate))
    if key not in _LIMITERS:
        _LIMITERS[key] = RateLimiter(rate)
    return _LIMITERS[key]


def model_identity(model: LanguageModel) -> str:
    """What makes answers differ between models of one backend: the endpoint and model name
    (openai), the folder and its files (transformers), else the name."""
    return str(getattr(model, "identity", model.name))


def cache_key(model: LanguageModel, messages: Messages, sampling: Sampling) -> str:
    """SHA-256 of the backend, the model's identity, the messages and the sampling."""
    blob = json.dumps(
        [model.kind, model_identity(model), messages, asdict(sampling)],
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class CachedModel:
    """A backend behind a disk cache, a rate limit and a timeout, keeping `Usage`."""

    def __init__(
        self,
        model: LanguageModel,
        cache_dir: str | Path | None,
        calls_per_s: float = 0.0,
        timeout_s: float = 30.0,
        max_failures: int = 0,
    ):
        """`max_failures`: after this many failed calls in a row, raise LanguageModelError
        (the run stops) instead of answering None (0: never)."""
        self.model = model
        self.max_failures = max_failures
        self.failing = 0
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.limiter = shared_limiter(model.kind, model_identity(model), calls_per_s)
        self.timeout_s = timeout_s
        self.usage = Usage()

    def _path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / key[:2] / f"{key}.json"

    def _read(self, path: Path | None) -> str | None:
        if path is None or not path.is_file():
            return None
        try:
            return str(json.loads(path.read_text(encoding="utf-8"))["text"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a torn or foreign file: ask again and overwrite it

    def _write(self, path: Path | None, completion: Completion, messages: Messages) -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "backend": self.model.kind,
            "model": self.model.name,
            "text": completion.text,
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "latency_s": completion.latency_s,
            "prompt": messages[-1]["content"][-500:],
        }
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)  # atomic: concurrent writers of one key leave a whole file

    def complete(self, messages: Messages, sampling: Sampling) -> str | None:
        """The answer text (None when the call failed; counted and logged)."""
        self.usage.queries += 1
        path = self._path(cache_key(self.model, messages, sampling))
        cached = self._read(path)
        if cached is not None:
            self.usage.cache_hits += 1
            return cached
        self.limiter.wait()
        try:
            completion = self.model.complete(messages, sampling, self.timeout_s)
        except LanguageModelError as exc:
            self.usage.failures += 1
            self.failing += 1
            log.warning("language model call failed: %s", exc)
            if self.max_failures and self.failing >= self.max_failures:
                raise LanguageModelError(
                    f"{self.failing} language-model calls failed in a row, the last: {exc} "
                    "(max_failures)"
                ) from None
            return None
        self.failing = 0
        self.usage.calls += 1
        self.usage.prompt_tokens += completion.prompt_tokens
        self.usage.completion_tokens += completion.completion_tokens
        self.usage.latency_s += completion.latency_s
        self._write(path, completion, messages)
        return completion.text
