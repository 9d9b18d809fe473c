"""Reports of `kind: audit`: the rich panel, a JUnit test suite, Markdown lines and a PNG."""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from testbed.audit.stage import AuditResult
from testbed.report.format import fmt, slug
from testbed.report.summary import VERDICT_ICONS

COLORS = {"PASS": "bold green", "FAIL": "bold red", "INCONCLUSIVE": "bold yellow"}


def _bound(row: dict[str, Any]) -> str:
    if row.get("p_value") is not None:
        return f"p = {row['p_value']:.3g}"
    return f"[{fmt(row.get('lower'), 3)}, {fmt(row.get('upper'), 3)}]"


def limit_text(row: dict[str, Any]) -> str:
    """The limit as a reader wants it: `≤ 10% > 2` for a violation rate, `> 0.5` for never."""
    if row["check"] in ("violation_rate", "interventions"):
        rate = f"≤ {fmt(row.get('limit'), 3)}"
        return rate + (
            f" (cost > {row['threshold']:g})" if row.get("threshold") is not None else ""
        )
    if row["check"] == "never":
        return f"step cost > {row['threshold']:g}"
    return fmt(row.get("limit"), 3)


def histogram(values: list[float], bins: int = 10, width: int = 40) -> Table:
    """A terminal histogram: one row per bin with a bar of block characters."""
    table = Table(title="episode cost (team)", title_justify="left", box=None, pad_edge=False)
    table.add_column("cost", justify="right")
    table.add_column("", no_wrap=True)
    table.add_column("episodes", justify="right")
    x = np.asarray(values, float)
    if x.size == 0:
        return table
    low, high = float(x.min()), float(x.max())
    counts, edges = np.histogram(x, bins=bins if high > low else 1)
    top = max(int(counts.max()), 1)
    for count, left, right in zip(counts, edges[:-1], edges[1:], strict=True):
        bar = "█" * int(round(width * count / top)) or ("▏" if count else "")
        table.add_row(f"{left:.3g}–{right:.3g}", bar, str(int(count)))
    return table


@dataclass
class AuditView:
    """The report of one `kind: audit` stage."""

    result: AuditResult
    run_dir: Path | None = None

    def __rich__(self) -> Panel:
        r = self.result
        table = Table(title="Constraints", title_justify="left")
        for column, justify in (
            ("constraint", "left"),
            ("check", "left"),
            ("limit", "right"),
            ("estimate", "right"),
            (f"{r.confidence:.0%} bound", "right"),
            ("n", "right"),
            ("verdict", "left"),
        ):
            table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
        fixed = any(row.get("fixed_sample") for row in r.constraints)
        if fixed:
            table.add_column("fixed-sample", justify="left")
        for row in r.constraints:
            name = row["constraint"] + ("" if row["scope"] == "team" else f" [{row['scope']}]")
            check = row["check"] + ("" if row["cost"] == "total" else f" · {row['cost']}")
            verdict = row["verdict"] + (" ≈" if row.get("approximate") else "")
            table.add_row(
                Text(name),
                check,
                limit_text(row),
                fmt(row.get("estimate"), 3),
                _bound(row),
                str(row["n"]),
                Text(verdict, style=COLORS[row["verdict"]]),
                *([fixed_sample_text(row)] if fixed else []),
            )
        parts: list[Any] = [
            table,
            Text(episodes_text(r), style="dim"),
            histogram([rec.team_cost for rec in r.records]),
        ]
        if len(r.attribution) > 1:
            who = Table(title="Cost by agent", title_justify="left")
            for column in ("agent", "share of cost", "episodes with cost", "mean cost"):
                who.add_column(column, justify="left" if column == "agent" else "right")
            for agent, a in r.attribution.items():
                who.add_row(
                    agent,
                    f"{a['cost_share']:.0%}",
                    f"{a['episodes_with_cost']:.0%}",
                    fmt(a["mean_cost"]),
                )
            parts.append(who)
        worst = Table(title="Worst episodes", title_justify="left")
        for column in ("episode", "seed", "team cost", "team return"):
            worst.add_column(column, justify="right")
        for w in r.worst_episodes:
            worst.add_row(
                str(w["episode"]), str(w["seed"]), fmt(w["team_cost"]), fmt(w["team_return"])
            )
        parts.append(worst)
        if self.run_dir is not None and r.worst_episodes:
            k = r.worst_episodes[0]["episode"]
            command = (
                f"testbed replay {shlex.quote(str(self.run_dir))} --stage "
                f"{shlex.quote(r.name)} --episode {k} --gif worst.gif"
            )
            parts.append(Text(f"replay the worst: {command}", style="dim"))
        verdict = r.verdict
        title = (
            f"[bold]audit[/] {r.name} · [cyan]{r.env['id']}[/] · [{COLORS[verdict]}]{verdict}[/]"
        )
        return Panel(
            Group(*parts), title=title, title_align="left", border_style=COLORS[verdict].split()[-1]
        )


def episodes_text(r: AuditResult) -> str:
    """Which method decided, after how many episodes, and what a fixed sample would say."""
    how = {
        "anytime": "anytime-valid tests, may stop at any episode up to the maximum",
        "open-ended": "anytime-valid tests at Ville's thresholds, may stop at any episode",
        "looks": "sequential, geometric looks",
        "mixed": "anytime-valid tests; geometric looks for checks without one",
    }.get(r.sequential)
    if how is None:
        return f"{r.episodes} episodes (fixed sample)"
    played = f", {r.episodes} played" if r.episodes != r.episodes_decided else ""
    text = f"decided after {r.episodes_decided} episodes ({how}; at most {r.episodes_max}{played})"
    if not r.stopped_early:
        text = f"{r.episodes_decided} episodes, the maximum ({how}{played})"
    if any(row.get("fixed_sample") for row in r.constraints):
        text += "; fixed-sample: the exact fixed-n test on the same episodes, for comparison"
    return text


def fixed_sample_text(row: dict[str, Any]) -> str:
    fixed = row.get("fixed_sample")
    return "" if not fixed else str(fixed["verdict"])


def junit_suite(result: AuditResult, scenario: str, allow_inconclusive: bool) -> ET.Element:
    """One <testsuite> for an audit stage of `scenario`: a <testcase> per constraint check."""
    rows = result.constraints
    failures = sum(
        r["verdict"] == "FAIL" or (r["verdict"] == "INCONCLUSIVE" and not allow_inconclusive)
        for r in rows
    )
    skipped = sum(r["verdict"] == "INCONCLUSIVE" and allow_inconclusive for r in rows)
    suite = ET.Element(
        "testsuite",
        name=f"{scenario}.{result.name}",
        tests=str(len(rows)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{result.wall_time_s:.3f}",
    )
    for row in rows:
        case = ET.SubElement(
            suite, "testcase", classname=f"testbed.audit.{result.name}", name=row["label"], time="0"
        )
        text = row["explanation"]
        if row["verdict"] == "FAIL":
            ET.SubElement(case, "failure", message=f"FAIL: {row['label']}", type="FAIL").text = text
        elif row["verdict"] == "INCONCLUSIVE" and not allow_inconclusive:
            ET.SubElement(
                case, "failure", message=f"INCONCLUSIVE: {row['label']}", type="INCONCLUSIVE"
            ).text = text
        elif row["verdict"] == "INCONCLUSIVE":
            ET.SubElement(case, "skipped", message=f"INCONCLUSIVE (allowed): {text}")
        ET.SubElement(case, "system-out").text = text
    return suite


def audit_markdown(result: AuditResult) -> list[str]:
    """Markdown lines: one row per constraint check, the sample, the worst episode."""
    fixed = any(r.get("fixed_sample") for r in result.constraints)
    lines = [
        "| constraint | check | limit | estimate | bound | n | verdict |"
        + (" fixed-sample |" if fixed else ""),
        "|---|---|---:|---:|---:|---:|---|" + ("---|" if fixed else ""),
    ]
    for r in result.constraints:
        scope = "" if r["scope"] == "team" else f" [{r['scope']}]"
        lines.append(
            f"| {r['constraint']}{scope} | {r['check']} | {limit_text(r)} "
            f"| {fmt(r.get('estimate'), 3)} | {_bound(r)} | {r['n']} "
            f"| {VERDICT_ICONS[r['verdict']]} {r['verdict']} |"
            + (f" {fixed_sample_text(r)} |" if fixed else "")
        )
    lines += [
        "",
        f"{episodes_text(result)}; confidence {result.confidence:.0%}, root seed {result.seed}.",
        "",
    ]
    if result.worst_episodes:
        w = result.worst_episodes[0]
        lines += [
            f"Worst episode: #{w['episode']} (seed {w['seed']}), team cost {w['team_cost']:.3g}.",
            "",
        ]
    return lines


def audit_plot(result: AuditResult, path: Path) -> None:
    """Cost distribution (with the episode-cost limits) and cost vs return, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    costs = np.array([r.team_cost for r in result.records])
    returns = np.array([r.team_return for r in result.records])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.hist(costs, bins=min(30, max(5, costs.size // 5)), color="#4c72b0")
    limits = {
        r["threshold"]
        for r in result.constraints
        if r["check"] == "violation_rate" and r["scope"] == "team" and r["cost"] == "total"
    }
    for limit in sorted(limits):
        left.axvline(limit, color="#c44e52", linestyle="--", label=f"limit {limit:g}")
    if limits:
        left.legend()
    left.set(title="episode cost (team)", xlabel="cost", ylabel="episodes")
    right.scatter(costs, returns, s=10, alpha=0.6, color="#55a868")
    right.set(title="cost vs return", xlabel="episode cost", ylabel="episode return")
    fig.suptitle(f"audit {result.name}: {result.verdict}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_audit_files(result: AuditResult, out_dir: Path) -> None:
    """The stage's PNG: `audit-<stage>.png`."""
    audit_plot(result, out_dir / f"audit-{slug(result.name)}.png")
