"""Summary statistics with confidence intervals, and the metrics of a set of episodes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from testbed.rollout.episode import EpisodeRecord


@dataclass(frozen=True)
class Summary:
    """Mean of a sample with a two-sided Student-t confidence interval, and its interquartile
    mean (the mean of the middle 50%: robust to outlying episodes; Agarwal et al. 2021)."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    min: float
    max: float
    confidence: float = 0.95
    iqm: float = float("nan")

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2

    def to_dict(self) -> dict[str, float]:
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """Mean, sample std and a t-interval; the interval is NaN for fewer than two values."""
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, nan, nan, confidence)
    mean = float(x.mean())
    if n == 1:
        nan = float("nan")
        return Summary(1, mean, nan, nan, nan, mean, mean, confidence, mean)
    from rliable.metrics import aggregate_iqm  # scipy: ~0.5 s, and `testbed --help` needs none
    from scipy import stats

    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    iqm = float(aggregate_iqm(x.reshape(-1, 1)))
    return Summary(
        n, mean, std, mean - half, mean + half, float(x.min()), float(x.max()), confidence, iqm
    )


def summarize_episodes(records: list[EpisodeRecord], confidence: float = 0.95) -> dict[str, Any]:
    """Team and per-agent metrics (mean, std, CI, min, max) over episodes."""
    agents: dict[str, dict[str, Any]] = {}
    names = sorted({name for r in records for name in r.agents})
    for name in names:
        present = [r.agents[name] for r in records if name in r.agents]
        parts = sorted({p for a in present for p in a.costs})
        agents[name] = {
            "return": summarize([a.ret for a in present], confidence).to_dict(),
            "cost": summarize([a.cost for a in present], confidence).to_dict(),
            "steps": summarize([a.steps for a in present], confidence).to_dict(),
            "costs": {
                p: summarize([a.costs.get(p, 0.0) for a in present], confidence).to_dict()
                for p in parts
            },
        }
        used = sorted({k for a in present for k in a.usage})
        if used:  # resource use of policies that report it (a language model's calls, ...)
            agents[name]["usage"] = {
                k: summarize([a.usage.get(k, 0.0) for a in present], confidence).to_dict()
                for k in used
            }
    team = {
        "return": summarize([r.team_return for r in records], confidence).to_dict(),
        "cost": summarize([r.team_cost for r in records], confidence).to_dict(),
        "length": summarize([r.length for r in records], confidence).to_dict(),
    }
    return {"team": team, "agents": agents}
