"""Rich terminal views of results. Each view is a plain object with `__rich__`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


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


@dataclass
class EvaluateView:
    """The report of one `kind: evaluate` stage."""

    result: dict[str, Any]

    def __rich__(self) -> Panel:
        r = self.result
        metrics = r["metrics"]
        team = Table(title="Team", title_justify="left", expand=False)
        team.add_column("metric")
        team.add_column("mean ± 95% CI", justify="right")
        team.add_column("min", justify="right")
        team.add_column("max", justify="right")
        for key, label in (("return", "return"), ("cost", "cost"), ("length", "length")):
            s = metrics["team"][key]
            team.add_row(label, fmt_ci(s), fmt(s["min"]), fmt(s["max"]))

        agents = Table(title="Agents", title_justify="left", expand=False)
        agents.add_column("agent")
        agents.add_column("policy")
        agents.add_column("return", justify="right")
        agents.add_column("cost", justify="right")
        agents.add_column("steps", justify="right")
        for name, m in metrics["agents"].items():
            agents.add_row(
                name,
                r["seats"].get(name, "?"),
                fmt_ci(m["return"]),
                fmt_ci(m["cost"]),
                fmt(m["steps"]["mean"], 1),
            )
        footer = Text(
            f"{r['episodes']} episodes in {r['wall_time_s']:.1f} s "
            f"({fmt(r['episodes_per_s'], 1)} episodes/s), root seed {r['seed']}",
            style="dim",
        )
        title = f"[bold]evaluate[/] {r['name']} · [cyan]{r['env']['id']}[/]"
        return Panel(Group(team, agents, footer), title=title, title_align="left")


def stage_view(result: dict[str, Any], run_dir: Path | None = None) -> Any:
    if result["kind"] == "train":
        from testbed.train_report import TrainView

        return TrainView(result)
    if result["kind"] == "tournament":
        from testbed.tournament_report import TournamentView

        return TournamentView(result)
    if result["kind"] == "audit":
        from testbed.audit_report import AuditView

        return AuditView(result, run_dir)
    return EvaluateView(result)
