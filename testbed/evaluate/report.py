"""Reports of `kind: evaluate`: the rich panel and the Markdown section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from testbed.evaluate.stage import EvaluateResult
from testbed.report.format import fmt, fmt_ci


@dataclass
class EvaluateView:
    """The report of one `kind: evaluate` stage."""

    result: EvaluateResult
    run_dir: Path | None = None

    def __rich__(self) -> Panel:
        r = self.result
        metrics = r.metrics
        if "adaptation" in metrics:
            return _adaptation_panel(r)
        team = Table(title="Team", title_justify="left", expand=False)
        team.add_column("metric")
        team.add_column("mean ± 95% CI", justify="right")
        team.add_column("IQM", justify="right")
        team.add_column("min", justify="right")
        team.add_column("max", justify="right")
        for key, label in (("return", "return"), ("cost", "cost"), ("length", "length")):
            s = metrics["team"][key]
            team.add_row(label, fmt_ci(s), fmt(s.get("iqm")), fmt(s["min"]), fmt(s["max"]))

        agents = Table(title="Agents", title_justify="left", expand=False)
        agents.add_column("agent")
        agents.add_column("policy")
        agents.add_column("return", justify="right")
        agents.add_column("cost", justify="right")
        agents.add_column("steps", justify="right")
        for name, m in metrics["agents"].items():
            agents.add_row(
                name,
                r.seats.get(name, "?"),
                fmt_ci(m["return"]),
                fmt_ci(m["cost"]),
                fmt(m["steps"]["mean"], 1),
            )
        parts = [team, agents]
        usage = usage_table(metrics)
        if usage is not None:
            parts.append(usage)
        footer = Text(
            f"{r.episodes} episodes in {r.wall_time_s:.1f} s "
            f"({fmt(r.episodes_per_s, 1)} episodes/s), root seed {r.seed}",
            style="dim",
        )
        title = f"[bold]evaluate[/] {r.name} · [cyan]{r.env['id']}[/]"
        return Panel(Group(*parts, footer), title=title, title_align="left")


USAGE_COLUMNS = (
    ("llm_queries", "asked"),
    ("llm_calls", "calls"),
    ("llm_cache_hits", "cached"),
    ("llm_failures", "failed"),
    ("llm_fallbacks", "fallback"),
    ("llm_tokens", "tokens"),
    ("llm_latency_s", "s"),
)


def usage_table(metrics: dict) -> Table | None:
    """Language-model use per episode (mean) of agents that report it, or None."""
    rows = {n: m["usage"] for n, m in metrics["agents"].items() if "usage" in m}
    if not rows:
        return None
    table = Table(title="Language model, per episode (mean)", title_justify="left")
    table.add_column("agent")
    for _, label in USAGE_COLUMNS:
        table.add_column(label, justify="right")
    for name, usage in rows.items():
        table.add_row(name, *(fmt(usage.get(k, {}).get("mean"), 1) for k, _ in USAGE_COLUMNS))
    return table


def evaluate_markdown(result: EvaluateResult) -> list[str]:
    """Markdown lines: the team's metrics with their intervals."""
    if "adaptation" in result.metrics:
        return _adaptation_lines(result)
    team = result.metrics["team"]
    lines = ["| metric | mean | 95% CI | IQM |", "|---|---:|---:|---:|"]
    for key in ("return", "cost", "length"):
        s = team[key]
        lines.append(
            f"| {key} | {fmt(s['mean'])} | [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}] | "
            f"{fmt(s.get('iqm'))} |"
        )
    usage = {n: m["usage"] for n, m in result.metrics["agents"].items() if "usage" in m}
    if usage:
        lines += ["", "Language model, per episode (mean):", ""]
        lines += ["| agent | " + " | ".join(label for _, label in USAGE_COLUMNS) + " |"]
        lines += ["|---|" + "---:|" * len(USAGE_COLUMNS)]
        for name, u in usage.items():
            cells = " | ".join(fmt(u.get(k, {}).get("mean")) for k, _ in USAGE_COLUMNS)
            lines.append(f"| {name} | {cells} |")
    return [*lines, "", f"{result.episodes} episodes, root seed {result.seed}.", ""]


def _adaptation_panel(r: EvaluateResult) -> Panel:
    a = r.metrics["adaptation"]
    table = Table(title="Return of sampled episodes, mean ± 95% CI over held-out tasks",
                  title_justify="left")  # fmt: skip
    table.add_column("adaptation steps", justify="right")
    table.add_column("return", justify="right")
    for step, summary in zip(a["steps"], a["return"], strict=True):
        table.add_row(str(step), fmt_ci(summary))
    footer = Text(
        f"{len(r.metrics['tasks'])} held-out tasks, {a['episodes_per_step']} episodes per step, "
        f"{r.wall_time_s:.1f} s, root seed {r.seed}",
        style="dim",
    )
    title = f"[bold]evaluate · adapt[/] {r.name} · [cyan]{r.env['id']}[/]"
    return Panel(Group(table, footer), title=title, title_align="left")


def _adaptation_lines(r: EvaluateResult) -> list[str]:
    a = r.metrics["adaptation"]
    lines = ["| adaptation steps | return | 95% CI |", "|---:|---:|---:|"]
    for step, s in zip(a["steps"], a["return"], strict=True):
        lines.append(f"| {step} | {fmt(s['mean'])} | [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}] |")
    return [*lines, "", f"{len(r.metrics['tasks'])} held-out tasks, root seed {r.seed}.", ""]
