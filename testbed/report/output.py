"""The run directory: result.json at the end, episodes.jsonl appended as each episode ends."""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any


def default_run_dir(scenario_name: str, root: str | Path = "runs") -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", scenario_name).strip("-") or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{slug}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(root) / f"{slug}-{stamp}-{suffix}"
    return path


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def write_json(path: Path, data: Any) -> None:
    """Write atomically, so a killed run never leaves a half-written file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_clean(data), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class EpisodeLog:
    """Appends one JSON line per finished episode and flushes it at once."""

    def __init__(self, path: Path):
        self.path = path
        self._file = path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(_clean(record)) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
