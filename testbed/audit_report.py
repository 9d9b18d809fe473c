"""Audit reports: the rich terminal view, JUnit XML, a Markdown summary and a PNG."""

from __future__ import annotations

import re
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

from testbed.report import fmt

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

    result: dict[str, Any]
    run_dir: Path | None = None

    def __rich__(self) -> Panel:
        r = self.result
        table = Table(title="Constraints", title_justify="left")
        for column, justify in (
            ("constraint", "left"),
            ("check", "left"),
            ("limit", "right"),
            ("estimate", "right"),
            (f"{r['confidence']:.0%} bound", "right"),
            ("n", "right"),
            ("verdict", "left"),
        ):
            table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for row in r["constraints"]:
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
            )
        if r["stopped_early"]:
            used = (
                f"decided after {r['episodes']} episodes (sequential; at most {r['episodes_max']})"
            )
        else:
            used = f"{r['episodes']} episodes"
        parts: list[Any] = [
            table,
            Text(used, style="dim"),
            histogram([rec.team_cost for rec in r["records"]]),
        ]
        if len(r["attribution"]) > 1:
            who = Table(title="Cost by agent", title_justify="left")
            for column in ("agent", "share of cost", "episodes with cost", "mean cost"):
                who.add_column(column, justify="left" if column == "agent" else "right")
            for agent, a in r["attribution"].items():
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
        for w in r["worst_episodes"]:
            worst.add_row(
                str(w["episode"]), str(w["seed"]), fmt(w["team_cost"]), fmt(w["team_return"])
            )
        parts.append(worst)
        if self.run_dir is not None and r["worst_episodes"]:
            k = r["worst_episodes"][0]["episode"]
            command = (
                f"testbed replay {shlex.quote(str(self.run_dir))} --stage "
                f"{shlex.quote(r['name'])} --episode {k} --gif worst.gif"
            )
            parts.append(Text(f"replay the worst: {command}", style="dim"))
        verdict = r["verdict"]
        title = (
            f"[bold]audit[/] {r['name']} · [cyan]{r['env']['id']}[/] · "
            f"[{COLORS[verdict]}]{verdict}[/]"
        )
        return Panel(
            Group(*parts), title=title, title_align="left", border_style=COLORS[verdict].split()[-1]
        )


def junit_xml(scenario: str, stages: list[dict[str, Any]], allow_inconclusive: bool) -> str:
    """One <testsuite> per audit stage, one <testcase> per constraint check."""
    suites = ET.Element("testsuites", name=f"testbed audit {scenario}")
    for stage in stages:
        rows = stage["constraints"]
        failures = sum(
            r["verdict"] == "FAIL" or (r["verdict"] == "INCONCLUSIVE" and not allow_inconclusive)
            for r in rows
        )
        skipped = sum(r["verdict"] == "INCONCLUSIVE" and allow_inconclusive for r in rows)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{scenario}.{stage['name']}",
            tests=str(len(rows)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=f"{stage['wall_time_s']:.3f}",
        )
        for row in rows:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"testbed.audit.{stage['name']}",
                name=row["label"],
                time="0",
            )
            text = row["explanation"]
            if row["verdict"] == "FAIL":
                ET.SubElement(
                    case, "failure", message=f"FAIL: {row['label']}", type="FAIL"
                ).text = text
            elif row["verdict"] == "INCONCLUSIVE" and not allow_inconclusive:
                ET.SubElement(
                    case, "failure", message=f"INCONCLUSIVE: {row['label']}", type="INCONCLUSIVE"
                ).text = text
            elif row["verdict"] == "INCONCLUSIVE":
                ET.SubElement(case, "skipped", message=f"INCONCLUSIVE (allowed): {text}")
            ET.SubElement(case, "system-out").text = text
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def summary_markdown(scenario: str, stages: list[dict[str, Any]], verdict: str | None) -> str:
    """A Markdown summary that fits a CI job summary."""
    icon = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "⚠️"}
    lines = [f"# testbed: {scenario}" + (f" — {icon[verdict]} {verdict}" if verdict else ""), ""]
    for stage in stages:
        lines.append(f"## {stage['kind']} `{stage['name']}` on `{stage['env']['id']}`")
        lines.append("")
        if stage["kind"] == "audit":
            lines += [
                "| constraint | check | limit | estimate | bound | n | verdict |",
                "|---|---|---:|---:|---:|---:|---|",
            ]
            for r in stage["constraints"]:
                lines.append(
                    f"| {r['constraint']}{'' if r['scope'] == 'team' else ' [' + r['scope'] + ']'}"
                    f" | {r['check']} | {limit_text(r)} | {fmt(r.get('estimate'), 3)} "
                    f"| {_bound(r)} | {r['n']} | {icon[r['verdict']]} {r['verdict']} |"
                )
            lines += [
                "",
                f"{stage['episodes']} episodes (max {stage['episodes_max']}), "
                f"confidence {stage['confidence']:.0%}, root seed {stage['seed']}.",
                "",
            ]
            if stage["worst_episodes"]:
                w = stage["worst_episodes"][0]
                lines += [
                    f"Worst episode: #{w['episode']} (seed {w['seed']}), "
                    f"team cost {w['team_cost']:.3g}.",
                    "",
                ]
        elif stage["kind"] == "tournament":
            from testbed.tournament_report import tournament_markdown

            lines += tournament_markdown(stage)
        elif stage["kind"] == "train":
            from testbed.train_report import train_markdown

            lines += train_markdown(stage)
        else:
            team = stage["metrics"]["team"]
            lines += ["| metric | mean | 95% CI |", "|---|---:|---:|"]
            for key in ("return", "cost", "length"):
                s = team[key]
                lines.append(
                    f"| {key} | {fmt(s['mean'])} | [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}] |"
                )
            lines += ["", f"{stage['episodes']} episodes, root seed {stage['seed']}.", ""]
    return "\n".join(lines)


def audit_plot(stage: dict[str, Any], path: Path) -> None:
    """Cost distribution (with the episode-cost limits) and cost vs return, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    costs = np.array([r.team_cost for r in stage["records"]])
    returns = np.array([r.team_return for r in stage["records"]])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.hist(costs, bins=min(30, max(5, costs.size // 5)), color="#4c72b0")
    limits = {
        r["threshold"]
        for r in stage["constraints"]
        if r["check"] == "violation_rate" and r["scope"] == "team" and r["cost"] == "total"
    }
    for limit in sorted(limits):
        left.axvline(limit, color="#c44e52", linestyle="--", label=f"limit {limit:g}")
    if limits:
        left.legend()
    left.set(title="episode cost (team)", xlabel="cost", ylabel="episodes")
    right.scatter(costs, returns, s=10, alpha=0.6, color="#55a868")
    right.set(title="cost vs return", xlabel="episode cost", ylabel="episode return")
    fig.suptitle(f"audit {stage['name']}: {stage['verdict']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def slug(name: str) -> str:
    """A file-name-safe form of a stage name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "stage"


def write_audit_files(
    out_dir: Path,
    scenario: str,
    stages: list[dict[str, Any]],
    verdict: str | None,
    allow_inconclusive: bool,
) -> None:
    audits = [s for s in stages if s["kind"] == "audit"]
    (out_dir / "summary.md").write_text(
        summary_markdown(scenario, stages, verdict) + "\n", encoding="utf-8"
    )
    if not audits:
        return
    (out_dir / "audit.junit.xml").write_text(
        junit_xml(scenario, audits, allow_inconclusive), encoding="utf-8"
    )
    for stage in audits:
        audit_plot(stage, out_dir / f"audit-{slug(stage['name'])}.png")


def write_stage_plots(out_dir: Path, stages: list[dict[str, Any]]) -> None:
    """Per-stage PNGs of tournaments (ratings with intervals)."""
    from testbed.tournament_report import ratings_plot

    for stage in stages:
        if stage["kind"] == "tournament":
            ratings_plot(stage, out_dir / f"ratings-{slug(stage['name'])}.png")
