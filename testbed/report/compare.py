"""Sweeps of one run compared: when two or more train stages of a run are sweeps, summary.md
gains a section with the probability that each method's run beats another's (rliable's
Mann-Whitney estimate with a stratified bootstrap interval), `sweeps.json` holds it with the
performance profiles, and `sweeps.png` draws the profiles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from testbed.report.aggregate import (
    performance_profiles,
    probability_of_improvement,
    profile_plot,
)
from testbed.report.format import fmt


def sweep_scores(stages: Sequence[Any]) -> dict[str, list[float]]:
    """{stage name: each seed's final eval return} of the run's sweep stages."""
    return {
        stage.name: [run["eval_return"] for run in stage.sweep["runs"]]
        for stage in stages
        if getattr(stage, "sweep", None)
    }


def compare_sweeps(stages: Sequence[Any], out_dir: Path) -> list[str]:
    """Write sweeps.json and sweeps.png for two or more sweeps; the Markdown lines (none for
    fewer sweeps)."""
    scores = sweep_scores(stages)
    if len(scores) < 2:
        return []
    names = list(scores)
    pairs = {
        f"{x} > {y}": probability_of_improvement(scores[x], scores[y])
        for x in names
        for y in names
        if x != y
    }
    everything = [s for values in scores.values() for s in values]
    taus = np.linspace(min(everything), max(everything), 51)
    profiles = performance_profiles(scores, taus)
    profile_plot(profiles, out_dir / "sweeps.png", "final eval return (τ)")
    data = {"scores": scores, "probability_of_improvement": pairs, "profiles": profiles}
    (out_dir / "sweeps.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    lines = [
        "## Sweeps compared",
        "",
        "| P(a run of A beats a run of B) | estimate | 95% CI |",
        "|---|---:|---:|",
    ]
    for pair, p in pairs.items():
        interval = f"[{fmt(p['ci_low'])}, {fmt(p['ci_high'])}]" if p["ci_low"] is not None else ""
        lines.append(f"| {pair} | {fmt(p['value'])} | {interval} |")
    return [*lines, "", "Performance profiles: `sweeps.png`; all numbers: `sweeps.json`.", ""]
