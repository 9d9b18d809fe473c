"""The run page (`testbed report RUN_DIR --html`) and the leaderboard page (`testbed
leaderboard NAME --html`): one self-contained HTML file each (testbed/report/html.py).

Both read plain data only: a run's result.json, or a leaderboard's ratings as `rate` returns
them. Each stage kind has a section that knows its main fields (evaluate: metrics with their
intervals; audit: the verdicts; tournament: the leaderboard, a ratings plot with intervals, the
win-rate heat map, forfeits and the games with their replay commands; train: the curves);
every other field is rendered by the generic rules of `testbed.report.html`.
"""

from __future__ import annotations

import json
import shlex
import time
from html import escape
from pathlib import Path
from typing import Any

from testbed.errors import BadInput
from testbed.report.html import (
    fmt,
    html_table,
    page,
    render_fields,
    verdict_badge,
)
from testbed.report.svg import heat_map, interval_plot, line_chart

MAX_GAMES = 500  # games listed on a page; the rest are counted


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
        out += ["<h3>Learning curve</h3>", line_chart(series, "env steps", "return / cost")]
    skip = {"kind", "name", "env", "curve"}
    out.append(render_fields(stage, skip=skip))
    return "".join(out)


def _rank(row: dict[str, Any]) -> str:
    if row.get("rank") is None:
        return "–"
    low, high = row.get("rank_low"), row.get("rank_high")
    return f"{row['rank']}" + ("" if low == high else f" ({low}–{high})")


def ratings_sections(ratings: dict[str, Any], skip: set[str] | frozenset[str] = frozenset()) -> str:
    """The rating tables of a tournament or a leaderboard (`rate`'s fields, as dicts); fields
    neither shown here nor in `skip` (further rating methods) are rendered generically."""
    table = ratings.get("leaderboard_table") or []
    bt = ratings.get("bradley_terry") or {}
    confidence = bt.get("confidence", 0.95)
    out = ["<h3>Leaderboard</h3>"]
    rows = [
        [
            _rank(r),
            r["entrant"],
            r.get("rating"),
            _interval(r.get("ci_low"), r.get("ci_high")),
            r.get("elo"),
            f"{fmt(r.get('mu'), 3)} ± {fmt(r.get('sigma'), 3)}",
            r.get("score"),
            f"{r.get('wins')}/{r.get('draws')}/{r.get('losses')}",
            r.get("forfeits"),
        ]
        for r in table
    ]
    out.append(
        html_table(
            [
                "rank",
                "entrant",
                "rating (BT)",
                f"{confidence:.0%} interval",
                "Elo",
                "μ ± σ (Weng–Lin)",
                "score",
                "W/D/L",
                "forfeits",
            ],
            rows,
            cls="leaderboard",
        )
    )
    points = [
        (r["entrant"], r.get("rating"), r.get("ci_low"), r.get("ci_high"))
        for r in table
        if r.get("rating") is not None
    ]
    if points:
        out.append('<h3>Ratings with intervals</h3><div class="ratings-plot">')
        out.append(
            interval_plot(
                points,
                f"Bradley–Terry rating (Elo scale), {confidence:.0%} "
                f"bootstrap interval ({bt.get('n_bootstrap')} resamples)",
            )
        )
        out.append("</div>")
    skills = [
        (r["entrant"], r["mu"], r["mu"] - 2 * r["sigma"], r["mu"] + 2 * r["sigma"])
        for r in table
        if r.get("mu") is not None and r.get("sigma") is not None
    ]
    if skills:
        out.append(interval_plot(skills, "Weng–Lin skill μ ± 2σ (OpenSkill)"))
    if ratings.get("bradley_terry_error"):
        out.append(
            f'<p class="warn">Bradley–Terry not fitted: '
            f"{escape(ratings['bradley_terry_error'])}</p>"
        )
    out.append(payoff_section(ratings))
    order = [r["entrant"] for r in table]
    out.append(mean_score_section(ratings.get("games") or [], order))
    if bt.get("prob_better"):
        out.append("<h3>P(row rated above column), bootstrap</h3>")
        order = [r["entrant"] for r in table]
        cells = [
            [bt["prob_better"].get(a, {}).get(b) if a != b else None for b in order] for a in order
        ]
        out.append(
            heat_map(
                order,
                order,
                cells,
                low=0.0,
                high=1.0,
                caption="share of bootstrap fits rating the row above the column",
            )
        )
    forfeits = ratings.get("forfeits") or []
    if forfeits:
        out.append("<h3>Forfeits</h3>")
        out.append(
            html_table(
                ["game", "entrant", "reason", "seed"],
                ([f["game"], f["entrant"], f["reason"], f["seed"]] for f in forfeits),
                cls="forfeits",
            )
        )
    handled = {
        "leaderboard_table",
        "cross_play",
        "forfeits",
        "openskill",
        "elo",
        "matches",
        "bradley_terry_error",
        "games",
    }
    rest = {k: v for k, v in ratings.items() if k not in handled | skip}
    if isinstance(rest.get("bradley_terry"), dict):  # shown above, but for its fit settings
        rest["bradley_terry"] = {
            k: v for k, v in rest["bradley_terry"].items() if k not in ("ratings", "prob_better")
        }
    out.append(render_fields(rest))
    return "".join(out)


def payoff_section(ratings: dict[str, Any]) -> str:
    """The win-rate heat map: row's mean score against column (win 1, draw ½, loss 0)."""
    cross = ratings.get("cross_play") or {}
    if not cross.get("table"):
        return ""
    order = [r["entrant"] for r in ratings.get("leaderboard_table") or []] or cross["entrants"]
    cells, notes = [], []
    for a in order:
        row = cross["table"].get(a, {})
        cells.append([row[b]["score"] if b in row and a != b else None for b in order])
        notes.append(
            [
                f"W/D/L {row[b]['wins']}/{row[b]['draws']}/{row[b]['losses']}" if b in row else ""
                for b in order
            ]
        )
    return (
        '<h3>Payoff: win rate of row against column</h3><div class="payoff">'
        + heat_map(
            order,
            order,
            cells,
            low=0.0,
            high=1.0,
            notes=notes,
            caption="row's mean score vs column (win 1, draw ½, loss 0)",
        )
        + "</div>"
    )


def mean_score_section(games: list[dict[str, Any]], order: list[str]) -> str:
    """Row's mean score (its side's summed return) against column, over two-sided games
    without forfeits: what a win-rate table hides when margins matter (chips, points)."""
    totals: dict[tuple[str, str], list[float]] = {}
    for game in games:
        if len(game["entrants"]) != 2 or game.get("forfeit_entrant"):
            continue
        (a, b), (sa, sb) = game["entrants"], game["scores"]
        if a != b:
            totals.setdefault((a, b), []).append(sa)
            totals.setdefault((b, a), []).append(sb)
    if not totals:
        return ""
    means = {key: sum(v) / len(v) for key, v in totals.items()}
    cells = [[means.get((a, b)) for b in order] for a in order]
    notes = [[f"{len(totals.get((a, b), []))} games" for b in order] for a in order]
    spread = max(abs(v) for v in means.values()) or 1.0
    return (
        '<h3>Mean score of row against column</h3><div class="mean-score">'
        + heat_map(
            order,
            order,
            cells,
            low=-spread,
            high=spread,
            notes=notes,
            caption="row's mean score (its side's summed return per game); win rates "
            "above count only who scored more",
        )
        + "</div>"
    )


def games_section(stage: dict[str, Any], run_dir: Path | None) -> str:
    games = stage.get("games") or []
    if not games:
        return ""
    target = shlex.quote(str(run_dir)) if run_dir is not None else "RUN_DIR"
    name = shlex.quote(stage.get("name", ""))
    rows = [
        [
            g["index"],
            g["round"],
            " vs ".join(g["entrants"]),
            " : ".join(fmt(s, 3) for s in g["scores"]),
            g["length"],
            g["seed"],
            g.get("forfeit_entrant") or "",
            f"testbed replay {target} --stage {name} --game {g['index']} --gif game.gif",
        ]
        for g in games[:MAX_GAMES]
    ]
    more = f" (the first {MAX_GAMES} of {len(games)})" if len(games) > MAX_GAMES else ""
    return (
        f'<details class="games"><summary>{len(games)} games{more}: seeds, scores and how '
        "to replay each</summary>"
        + html_table(
            ["game", "round", "entrants", "scores", "length", "seed", "forfeit", "replay"],
            rows,
            cls="games",
        )
        + "</details>"
    )


TOURNAMENT_FIELDS = frozenset(
    {
        "kind",
        "name",
        "env",
        "format",
        "scoring",
        "sides",
        "leaderboard",
        "db",
        "run_id",
        "games_total",
        "games_resumed",
        "games_seconds",
        "seed",
        "games",
    }
)


def tournament_section(stage: dict[str, Any], run_dir: Path | None) -> str:
    facts = (
        f"{stage.get('games_total')} games ({stage.get('format')}, scoring by "
        f"{stage.get('scoring')}), root seed {stage.get('seed')}, leaderboard "
        f"{stage.get('leaderboard')!r}, run {stage.get('run_id')}"
    )
    setup = {k: stage.get(k) for k in ("sides", "games_resumed", "games_seconds", "db")}
    setup["sides"] = {side: ", ".join(agents) for side, agents in (setup["sides"] or {}).items()}
    return "".join(
        [
            f'<p class="note">{escape(facts)}</p>',
            ratings_sections(stage, TOURNAMENT_FIELDS),
            games_section(stage, run_dir),
            render_fields(setup),
        ]
    )


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


def leaderboard_page(
    name: str,
    ratings: dict[str, Any],
    runs: list[dict[str, Any]],
    games: list[dict[str, Any]],
    db: Path,
) -> str:
    """The page of a leaderboard: ratings over every game recorded under `name`."""
    run_rows = [
        [
            r["run_id"],
            r["scenario"],
            r["stage"],
            r["env"],
            r["games_done"],
            r["games_total"],
            r["status"],
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["started"])),
        ]
        for r in runs
    ]
    sections = [
        ("ratings", "Ratings", ratings_sections({**ratings, "games": games})),
        (
            "runs",
            "Runs",
            html_table(
                ["run", "scenario", "stage", "env", "games", "of", "status", "started (UTC)"],
                run_rows,
                cls="runs",
            ),
        ),
    ]
    subtitle = f"{len(games)} games from {len(runs)} runs · database {escape(str(db))}"
    return page(f"testbed leaderboard: {name}", subtitle, sections)


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
