"""Training reports: the rich panel, Markdown lines, the learning-curve PNG."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from testbed.report import fmt


def curve_plot(curve: list[dict[str, Any]], path: Path, title: str) -> None:
    """The learners' evaluation return and cost (and recent training return) against env steps."""
    if not curve:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in curve]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    top.plot(steps, [r["eval_return"] for r in curve], marker="o", label="evaluation")
    train_points = [(r["step"], r["train_return"]) for r in curve if r["train_return"] is not None]
    if train_points:
        top.plot(*zip(*train_points, strict=True), alpha=0.6, label="training (last 20 ep.)")
    top.set_ylabel("return (learners)")
    top.legend()
    top.grid(alpha=0.3)
    bottom.plot(steps, [r["eval_cost"] for r in curve], marker="o", color="#c44e52")
    bottom.set_ylabel("cost (learners)")
    bottom.set_xlabel("env steps")
    bottom.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@dataclass
class TrainView:
    """The report of one `kind: train` stage."""

    result: dict[str, Any]

    def __rich__(self) -> Panel:
        r = self.result
        table = Table(title="Learning curve (evaluation on held-out seeds)", title_justify="left")
        for column in ("step", "eval return", "eval cost", "train return", "seconds"):
            table.add_column(column, justify="right")
        curve = r["curve"]
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
        learners = ", ".join(f"{a}: {label}" for a, label in r["learners"].items())
        footer = Text(
            f"{r['steps']} steps, {r['episodes']} episodes in {r['wall_time_s']:.1f} s; "
            f"learners {learners}; checkpoints in {r['folder']}/checkpoints/final",
            style="dim",
        )
        title = f"[bold]train[/] {r['name']} · [cyan]{r['env']['id']}[/]"
        return Panel(Group(table, footer), title=title, title_align="left")


def train_markdown(result: dict[str, Any]) -> list[str]:
    final = result.get("final_eval") or {}
    return [
        "| steps | episodes | eval return | eval cost | wall time (s) |",
        "|---:|---:|---:|---:|---:|",
        f"| {result['steps']} | {result['episodes']} | {fmt(final.get('eval_return'))} | "
        f"{fmt(final.get('eval_cost'))} | {result['wall_time_s']:.1f} |",
        "",
        f"Checkpoints: `{result['folder']}/checkpoints/final/`.",
        "",
    ]
