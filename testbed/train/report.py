"""Reports of `kind: train`: the rich panel and the Markdown section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from testbed.report.format import fmt
from testbed.train.result import TrainResult


@dataclass
class TrainView:
    """The report of one `kind: train` stage."""

    result: TrainResult
    run_dir: Path | None = None

    def __rich__(self) -> Panel:
        r = self.result
        table = Table(title="Learning curve (evaluation on held-out seeds)", title_justify="left")
        for column in ("step", "eval return", "eval cost", "train return", "seconds"):
            table.add_column(column, justify="right")
        curve = r.curve
        shown = curve if len(curve) <= 8 else curve[:: max(1, len(curve) // 7)] + curve[-1:]
        for row in dict.fromkeys(map(lambda x: x["step"], shown)):
            point = next(p for p in curve if p["step"] == row)
            table.add_row(
                str(point["step"]),
                fmt(point["eval_return"]),
                fmt(point["eval_cost"]),
                fmt(point["train_return"]),
                f"{point['seconds']:.0f}",
            )
        learners = ", ".join(f"{a}: {label}" for a, label in r.learners.items())
        footer = Text(
            f"{r.steps} steps, {r.episodes} episodes in {r.wall_time_s:.1f} s; "
            f"learners {learners}; checkpoints in {r.folder}/checkpoints/final",
            style="dim",
        )
        title = f"[bold]train[/] {r.name} · [cyan]{r.env['id']}[/]"
        return Panel(Group(table, footer), title=title, title_align="left")


def train_markdown(result: TrainResult) -> list[str]:
    """Markdown lines: budget, final evaluation, where the checkpoints are."""
    final = result.final_eval or {}
    return [
        "| steps | episodes | eval return | eval cost | wall time (s) |",
        "|---:|---:|---:|---:|---:|",
        f"| {result.steps} | {result.episodes} | {fmt(final.get('eval_return'))} | "
        f"{fmt(final.get('eval_cost'))} | {result.wall_time_s:.1f} |",
        "",
        f"Checkpoints: `{result.folder}/checkpoints/final/`.",
        "",
    ]
