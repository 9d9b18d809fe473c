"""How numbers and names are written in every report (terminal, Markdown, file names)."""

from __future__ import annotations

import math
import re
from typing import Any


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def fmt_ci(summary: dict[str, Any], digits: int = 2) -> str:
    """`mean ± half-width` of a stats.Summary dict."""
    mean, low, high = summary.get("mean"), summary.get("ci_low"), summary.get("ci_high")
    if low is None or high is None:
        return fmt(mean, digits)
    return f"{fmt(mean, digits)} ± {fmt((high - low) / 2, digits)}"


def slug(name: str) -> str:
    """A file-name-safe form of a stage name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "stage"
