"""The rating sections of a tournament (run page) and the leaderboard page (`testbed
leaderboard NAME --html`): the leaderboard table, ratings with their intervals, the win-rate
and mean-score heat maps, forfeits, the games with their replay commands; rating fields added
later (e.g. further methods) are rendered by the generic rules of `testbed.report.html`.
"""

from __future__ import annotations

import shlex
import time
from html import escape
from pathlib import Path
from typing import Any

from testbed.report.html import fmt, html_table, page, render_fields
from testbed.report.svg import heat_map, interval_plot

MAX_GAMES = 500  # games listed on a page; the rest are counted


def _interval(low: Any, high: Any) -> str:
    return f"[{fmt(low)}, {fmt(high)}]" if low is not None and high is not None else "–"


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
