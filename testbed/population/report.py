"""Reports of `kind: population`: the rich panel and the Markdown section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from testbed.population.stage import PopulationResult
from testbed.report.format import fmt, fmt_ci

COLUMNS = ("population", "focal", "score [95% CI]", "background")


def _score(row: dict[str, Any]) -> str:
    score = row.get("score")
    if not score or score["value"] is None:
        return "n/a"
    return f"{fmt(score['value'])} [{fmt(score['ci_low'])}, {fmt(score['ci_high'])}]"


def _cells(row: dict[str, Any]) -> list[str]:
    background = fmt_ci(row["background"], 1) if row["background"] else "-"
    return [row["population"], fmt_ci(row["focal"], 1), _score(row), background]


def _title(r: PopulationResult, name: str) -> str:
    spec = r.scenarios[name]
    seats = spec["focal_seats"]
    bots = ", ".join(spec["background"] or r.background)
    one = next(
        (row["score"]["one"] for row in r.rows if row["scenario"] == name and "score" in row), None
    )
    scale = f"; score 1 = {one}" if one else ""
    return f"{name}: {spec['mode']}, {seats} focal seat{'s' * (seats > 1)}, bots {bots}{scale}"


def _caption(r: PopulationResult) -> str:
    norm = r.normalise
    scale = ""
    if norm:
        ones = norm["one"] if isinstance(norm["one"], str) else " / ".join(norm["one"])
        scale = f"score: {norm['zero']} = 0, best of {ones} = 1 (paired bootstrap CI); "
    return (
        f"{r.episodes} episodes per scenario and population, the same seeds, seats and bots for "
        f"every population; {scale}focal and background: per-capita return, mean ± 95% CI"
    )


@dataclass
class PopulationView:
    """The report of one `kind: population` stage."""

    result: PopulationResult
    run_dir: Path | None = None

    def __rich__(self) -> Panel:
        r = self.result
        parts: list[Any] = []
        for name in r.scenarios:
            table = Table(title=_title(r, name), title_justify="left")
            for column in COLUMNS:
                table.add_column(column, justify="left" if column == "population" else "right")
            for row in r.rows:
                if row["scenario"] == name:
                    table.add_row(
                        *_cells(row), style="bold" if row["population"] == "focal" else ""
                    )
            parts.append(table)
        parts.append(Text(_caption(r), style="dim"))
        title = f"[bold]population[/] {r.name} · [cyan]{r.env['id']}[/]"
        return Panel(Group(*parts), title=title, title_align="left")


def population_markdown(r: PopulationResult) -> list[str]:
    """Markdown lines: a table per scenario, a row per population."""
    lines = []
    for name in r.scenarios:
        lines += [
            f"{_title(r, name)}:",
            "",
            "| " + " | ".join(COLUMNS) + " |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            "| " + " | ".join(_cells(row)) + " |" for row in r.rows if row["scenario"] == name
        ]
        lines.append("")
    return [*lines, _caption(r) + ".", ""]
