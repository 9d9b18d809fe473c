"""Reports of `kind: train`: the rich panel and the Markdown section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
        lines = [Text(line, style="dim") for line in experiment_lines(r.experiments)]
        if r.sweep is not None:
            return Panel(sweep_table(r.sweep), title=title + " · sweep", title_align="left")
        usage = [Text(line, style="dim") for line in language_model_lines(r.metrics)]
        return Panel(Group(table, *lines, footer, *usage), title=title, title_align="left")


def experiment_lines(experiments: dict[str, Any] | None) -> list[str]:
    """One line per experimenting learner: steps spent and the parents found."""
    lines = []
    for agent, found in (experiments or {}).items():
        parts = [f"{agent} experimented for {found['steps']} steps"]
        for label in ("interventional", "observational"):
            if label in found:
                parents = ", ".join(found[label]["parents"]) or "none"
                parts.append(f"reward's parents from {label} rows: {parents}")
        if "conditions_on" in found:
            parts.append(f"conditions on: {', '.join(found['conditions_on']) or 'nothing'}")
        lines.append("; ".join(parts))
    return lines


def language_model_lines(metrics: dict[str, dict[str, float]]) -> list[str]:
    """What a language model advising a learner (`llm_advised`), or rating states for
    shaping (`shaping.language_model`), cost."""
    lines = []
    for agent, m in metrics.items():
        if "llm_queries" not in m:
            continue
        line = (
            f"language model ({'shaping' if agent == 'shaping' else 'advising ' + agent}): "
            f"{m['llm_queries']:.0f} queries, "
            f"{m['llm_calls']:.0f} calls, {m['llm_cache_hits']:.0f} cache hits, "
            f"{m['llm_failures']:.0f} failed, {m['llm_fallbacks']:.0f} fallbacks, "
            f"{m['llm_tokens']:.0f} tokens, {m['llm_latency_s']:.1f} s in calls"
        )
        if "llm_tokens_per_episode" in m:
            line += (
                f"; per training episode {m['llm_tokens_per_episode']:.1f} tokens, "
                f"{m.get('llm_latency_s_per_episode', 0.0):.3f} s"
            )
        lines.append(line)
    return lines


def _interval(stat: dict[str, Any]) -> str:
    if stat.get("ci_low") is None:
        return fmt(stat["value"])
    return f"{fmt(stat['value'])} [{fmt(stat['ci_low'])}, {fmt(stat['ci_high'])}]"


def aggregate_lines(sweep: dict[str, Any]) -> list[str]:
    """`IQM x [lo, hi], median ..., mean ...` of the sweep's returns (and optimality gap)."""
    ret = sweep["return"]
    names = ["iqm", "median", "mean"] + (["optimality_gap"] if "optimality_gap" in ret else [])
    labels = {"iqm": "IQM", "optimality_gap": f"optimality gap below {fmt(ret.get('target'))}"}
    return [f"{labels.get(n, n)} {_interval(ret[n])}" for n in names]


def sweep_table(sweep: dict[str, Any]) -> Group:
    """Each seed's final evaluation, then the aggregates over seeds."""
    table = Table(title="Sweep: final evaluation of each seed", title_justify="left")
    for column in ("seed", "steps", "eval return", "eval cost", "seconds"):
        table.add_column(column, justify="right")
    for run in sweep["runs"]:
        table.add_row(str(run["seed"]), str(run["steps"]), fmt(run["eval_return"]),
                      fmt(run["eval_cost"]), f"{run['wall_time_s']:.0f}")  # fmt: skip
    confidence = sweep["return"].get("confidence", 0.95)
    footer = Text(
        f"return over {len(sweep['runs'])} seeds ({confidence:.0%} stratified bootstrap, "
        "rliable): " + "; ".join(aggregate_lines(sweep)),
        style="dim",
    )
    return Group(table, footer)


def train_markdown(result: TrainResult) -> list[str]:
    """Markdown lines: budget, final evaluation, where the checkpoints are."""
    if result.sweep is not None:
        rows = [
            f"| {run['seed']} | {run['steps']} | {fmt(run['eval_return'])} | "
            f"{fmt(run['eval_cost'])} | {run['wall_time_s']:.1f} |"
            for run in result.sweep["runs"]
        ]
        return [
            "| seed | steps | eval return | eval cost | wall time (s) |",
            "|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "Return over seeds (95% stratified bootstrap, rliable): "
            + "; ".join(aggregate_lines(result.sweep))
            + ".",
            "",
            f"Each seed's curve and checkpoints: `{result.folder}/seed-<s>/`; all curves: "
            f"`{result.folder}/sweep.png`.",
            "",
        ]
    final = result.final_eval or {}
    return [
        "| steps | episodes | eval return | eval cost | wall time (s) |",
        "|---:|---:|---:|---:|---:|",
        f"| {result.steps} | {result.episodes} | {fmt(final.get('eval_return'))} | "
        f"{fmt(final.get('eval_cost'))} | {result.wall_time_s:.1f} |",
        "",
        *[line + "." for line in experiment_lines(result.experiments)],
        f"Checkpoints: `{result.folder}/checkpoints/final/`.",
        "",
        *[f"{line}." for line in language_model_lines(result.metrics)],
    ]
