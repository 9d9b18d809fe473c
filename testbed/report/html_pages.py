"""The run page (`testbed report RUN_DIR --html`): one self-contained HTML file
(testbed/report/html.py) from a run's result.json, plain data only.

Each stage kind has a section that knows its main fields (evaluate: metrics with their
intervals; audit: the verdicts; train: the curves, a sweep's seeds and aggregates; tournament:
testbed/report/html_ratings.py); every other field is rendered by the generic rules of
`testbed.report.html`.
"""

from __future__ import annotations

import csv
import json
from html import escape
from pathlib import Path
from typing import Any

from testbed.errors import BadInput
from testbed.report.format import slug
from testbed.report.html import (
    fmt,
    html_table,
    page,
    render_fields,
    verdict_badge,
)
from testbed.report.html_ratings import tournament_section
from testbed.report.svg import interval_plot, line_chart


def _interval(low: Any, high: Any) -> str:
    return f"[{fmt(low)}, {fmt(high)}]" if low is not None and high is not None else "–"


def _metric_rows(metrics: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for who, by_metric in [("team", metrics.get("team", {})), *metrics.get("agents", {}).items()]:
        for metric, s in by_metric.items():
            if isinstance(s, dict) and "mean" in s:
                rows.append(
                    [
                        who,
                        metric,
                        s["mean"],
                        _interval(s.get("ci_low"), s.get("ci_high")),
                        s.get("iqm"),
                        s.get("std"),
                        s.get("n"),
                    ]
                )
    return rows


def metrics_section(stage: dict[str, Any]) -> str:
    metrics = stage.get("metrics") or {}
    if not metrics:
        return ""
    confidence = metrics.get("team", {}).get("return", {}).get("confidence", 0.95)
    out = [
        "<h3>Metrics</h3>",
        html_table(
            ["who", "metric", "mean", f"{confidence:.0%} CI", "IQM", "std", "episodes"],
            _metric_rows(metrics),
            cls="metrics",
        ),
    ]
    returns = [
        (who, s["mean"], s.get("ci_low"), s.get("ci_high"))
        for who, s in (
            ("team", metrics.get("team", {}).get("return")),
            *((a, m.get("return")) for a, m in metrics.get("agents", {}).items()),
        )
        if isinstance(s, dict) and "mean" in s
    ]
    out.append(interval_plot(returns, f"episode return, mean and {confidence:.0%} t-interval"))
    return "".join(out)


def evaluate_section(stage: dict[str, Any], run_dir: Path | None) -> str:
    seats = stage.get("seats") or {}
    out = [html_table(["agent", "played by"], seats.items(), cls="seats")] if seats else []
    out.append(metrics_section(stage))
    out.append(render_fields(stage, skip={"kind", "name", "env", "metrics", "seats", "agents"}))
    return "".join(out)


def audit_section(stage: dict[str, Any], run_dir: Path | None) -> str:
    verdict = stage.get("verdict")
    out = [
        f'<p class="audit-verdict">Audit verdict: {verdict_badge(verdict)} at confidence '
        f"{fmt(stage.get('confidence'))}, decided after {stage.get('episodes_decided')} of "
        f"{stage.get('episodes')} episodes ({escape(str(stage.get('sequential')))}).</p>"
    ]
    rows = []
    for c in stage.get("constraints") or []:
        rows.append(
            [
                escape(c.get("label") or c.get("constraint", "")),
                verdict_badge(c.get("verdict")),
                escape(fmt(c.get("estimate"))),
                escape(_interval(c.get("lower"), c.get("upper"))),
                escape(fmt(c.get("limit"))),
                escape(str(c.get("method", ""))),
                escape(c.get("explanation", "")),
            ]
        )
    if rows:
        out.append("<h3>Constraints</h3>")
        out.append(
            html_table(
                ["constraint", "verdict", "estimate", "interval", "limit", "method", "explanation"],
                rows,
                cls="verdicts",
                raw=True,
            )
        )
    out.append(metrics_section(stage))
    skip = {"kind", "name", "env", "metrics", "constraints", "verdict", "seats", "agents"}
    out.append(render_fields(stage, skip=skip))
    return "".join(out)


def _read_curve(path: Path) -> list[dict[str, float]]:
    """A curve.csv as rows of numbers (empty when the file is missing or unreadable)."""
    try:
        with path.open(encoding="utf-8") as handle:
            return [
                {k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(handle)
            ]
    except (OSError, ValueError):
        return []


def sweep_section(stage: dict[str, Any], run_dir: Path | None) -> str:
    """A sweep's per-seed evaluation curves (their curve.csv) and its aggregate returns."""
    sweep = stage["sweep"]
    series = {}
    for run in sweep.get("runs") or []:
        places = [Path(run.get("folder", "")) / "curve.csv"]
        if run_dir is not None:
            places.append(Path(run_dir) / slug(stage["name"]) / f"seed-{run['seed']}" / "curve.csv")
        curve = next((c for c in map(_read_curve, places) if c), [])
        points = [(row["step"], row["eval_return"]) for row in curve if "eval_return" in row]
        if points:
            series[f"seed {run['seed']}"] = points
    out = []
    if series:
        out += [
            "<h3>Evaluation return of every seed</h3>",
            line_chart(series, "env steps", "eval return"),
        ]
    rows, points = [], []
    for metric in ("return", "cost"):
        stats = sweep.get(metric) or {}
        for name in ("iqm", "median", "mean"):
            if isinstance(stats.get(name), dict):
                v = stats[name]
                rows.append(
                    [metric, name, v.get("value"), _interval(v.get("ci_low"), v.get("ci_high"))]
                )
                if metric == "return":
                    points.append((name, v.get("value"), v.get("ci_low"), v.get("ci_high")))
    if rows:
        confidence = (sweep.get("return") or {}).get("confidence", 0.95)
        out += [
            f"<h3>Over {len(sweep.get('runs') or [])} seeds</h3>",
            html_table(
                ["metric", "statistic", "value", f"{confidence:.0%} interval"], rows, cls="sweep"
            ),
            interval_plot(
                points,
                f"return over seeds, {confidence:.0%} stratified bootstrap interval (rliable)",
            ),
        ]
    runs = [{k: v for k, v in run.items() if k != "checkpoints"} for run in sweep.get("runs") or []]
    out.append(render_fields({"runs": runs}))
    return "".join(out)


def train_section(stage: dict[str, Any], run_dir: Path | None) -> str:
    curve = stage.get("curve") or []
    out = []
    if curve:
        series = {}
        for column in ("eval_return", "train_return", "eval_cost", "train_cost"):
            points = [
                (row["step"], row.get(column)) for row in curve if row.get(column) is not None
            ]
            if points and not (column.endswith("cost") and all(y == 0 for _, y in points)):
                series[column.replace("_", " ")] = points
        title = "Learning curve" + (" (first seed)" if stage.get("sweep") else "")
        out += [f"<h3>{title}</h3>", line_chart(series, "env steps", "return / cost")]
    if isinstance(stage.get("sweep"), dict):
        out.append(sweep_section(stage, run_dir))
    skip = {"kind", "name", "env", "curve", "sweep"}
    out.append(render_fields(stage, skip=skip))
    return "".join(out)


SECTIONS = {
    "evaluate": evaluate_section,
    "audit": audit_section,
    "train": train_section,
    "tournament": tournament_section,
}


def run_page(result: dict[str, Any], run_dir: Path | None = None) -> str:
    """The page of one run (result.json as a dict)."""
    sections = []
    for i, stage in enumerate(result.get("stages") or []):
        kind, name = stage.get("kind", "?"), stage.get("name", f"stage {i}")
        env = stage.get("env") or {}
        head = (
            f'<p class="note">kind {escape(kind)} · env <code>{escape(str(env.get("id")))}</code>'
        )
        if env.get("params"):
            head += f" · params <code>{escape(fmt(env['params']))}</code>"
        render = SECTIONS.get(kind)
        body = (
            render(stage, run_dir) if render else render_fields(stage, skip={"kind", "name", "env"})
        )
        sections.append((f"stage-{i}", f"{name} ({kind})", head + "</p>" + body))
    status = result.get("status")
    subtitle = (
        f"status {escape(str(status))}"
        + (f" · verdict {verdict_badge(result.get('verdict'))}" if result.get("verdict") else "")
        + f" · testbed {escape(str(result.get('testbed_version')))}"
        + (f" · {escape(str(run_dir))}" if run_dir is not None else "")
    )
    if result.get("error"):
        sections.insert(0, ("error", "Error", f'<p class="warn">{escape(result["error"])}</p>'))
    return page(f"testbed run: {result.get('scenario')}", subtitle, sections)


def write_run_page(run_dir: Path, out: Path | None = None) -> Path:
    """Write the run page of `run_dir` (default `RUN_DIR/report.html`); return its path."""
    result_path = Path(run_dir) / "result.json"
    if not result_path.is_file():
        raise BadInput(f"{str(run_dir)!r} is not a run directory (it has no result.json)")
    try:
        result = json.loads(result_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{result_path}: not a testbed result ({exc})") from None
    if not isinstance(result, dict) or "stages" not in result:
        raise BadInput(f"{result_path}: not a testbed result (no `stages`)")
    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    path.write_text(run_page(result, Path(run_dir)), encoding="utf-8")
    return path
