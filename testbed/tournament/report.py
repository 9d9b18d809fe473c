"""Tournament reports: the rich leaderboard and payoff heat-map, Markdown, a ratings PNG."""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from testbed.errors import BadInput
from testbed.report.format import fmt, slug
from testbed.report.html_ratings import leaderboard_page
from testbed.tournament.spec import RatingOptions
from testbed.tournament.stage import Ratings, TournamentResult, rate
from testbed.tournament.store import DEFAULT_DB, LeaderboardStore


def _interval(low: float | None, high: float | None, digits: int = 0) -> str:
    if low is None or high is None or any(math.isnan(v) for v in (low, high)):
        return "n/a"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def _rank(row: dict[str, Any]) -> str:
    if "rank" not in row:
        return "-"
    low, high = row["rank_low"], row["rank_high"]
    return f"{row['rank']}" + ("" if low == high else f" ({low}–{high})")


def leaderboard_table(result: Ratings, title: str = "Leaderboard") -> Table:
    """Entrants best first: Bradley–Terry rating with interval and rank range, Elo, W/D/L."""
    bt = result.bradley_terry
    confidence = bt["confidence"] if bt else 0.95
    table = Table(title=title, title_justify="left")
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("entrant", no_wrap=True)
    if bt:
        table.add_column(f"rating [{confidence:.0%} CI]", justify="right", no_wrap=True)
    if result.elo:
        table.add_column("Elo", justify="right")
    table.add_column("μ ± σ", justify="right", no_wrap=True)
    table.add_column("W/D/L", justify="right", no_wrap=True)
    any_forfeits = any(row["forfeits"] for row in result.leaderboard_table)
    if any_forfeits:
        table.add_column("forfeits", justify="right")
    for row in result.leaderboard_table:
        cells = [Text(_rank(row)), Text(row["entrant"], style="bold")]
        if bt:
            cells.append(
                Text(
                    f"{fmt(row.get('rating'), 0)} "
                    f"{_interval(row.get('ci_low'), row.get('ci_high'))}"
                )
            )
        if result.elo:
            cells.append(Text(fmt(row.get("elo"), 0)))
        cells += [
            Text(f"{fmt(row.get('mu'), 1)} ± {fmt(row.get('sigma'), 1)}"),
            Text(f"{row['wins']}/{row['draws']}/{row['losses']}"),
        ]
        if any_forfeits:
            cells.append(Text(str(row["forfeits"]), style="red" if row["forfeits"] else ""))
        table.add_row(*cells)
    return table


def _heat(score: float | None) -> str:
    """Red (row loses) through grey to green (row wins)."""
    if score is None:
        return "dim"
    if score >= 0.5:
        level = int(min(1.0, (score - 0.5) * 2) * 4)
        return ["grey50", "green4", "green3", "green1", "bold green1"][level]
    level = int(min(1.0, (0.5 - score) * 2) * 4)
    return ["grey50", "red3", "red1", "bold red1", "bold red1"][level]


def payoff_table(result: Ratings) -> Table | None:
    """Row's mean score against column (win 1, draw ½), coloured as a heat map."""
    cross = result.cross_play
    if not cross:
        return None
    order = [row["entrant"] for row in result.leaderboard_table]
    table = Table(title="Payoff (row's score vs column)", title_justify="left")
    table.add_column("")
    for name in order:
        table.add_column(name, justify="center")
    for row_name in order:
        cells = [Text(row_name, style="bold")]
        for col_name in order:
            cell = cross["table"].get(row_name, {}).get(col_name)
            if row_name == col_name or cell is None:
                cells.append(Text("·", style="dim"))
                continue
            score = cell["score"]
            cells.append(Text(f"{score:.2f}", style=_heat(score)))
        table.add_row(*cells)
    theory = result.game_theory
    if theory:
        names = theory["entrants"]
        widest = max(
            (
                (theory["payoff_high"][i][j] - theory["payoff_low"][i][j], a, b)
                for i, a in enumerate(names)
                for j, b in enumerate(names)
                if i != j
            ),
            default=None,
        )
        if widest is not None:
            width, a, b = widest
            games = theory["games"][names.index(a)][names.index(b)]
            table.caption = (
                f"{theory['confidence']:.0%} Jeffreys intervals of the cells are up to "
                f"±{width / 2:.2f} wide ({a} vs {b}, {games} games); see summary.md"
            )
            table.caption_justify = "left"
    return table


def _share(row: dict[str, Any], key: str, sep: str = ", ") -> str:
    low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
    return f"{row[key]:.2f}" + ("" if low is None else f" [{low:.2f}{sep}{high:.2f}]")


def _rank_range(row: dict[str, Any], key: str) -> str:
    low, high = row.get(f"{key}_rank_low"), row.get(f"{key}_rank_high")
    rank = row[f"{key}_rank"]
    return f"{rank}" + ("" if low is None or low == high else f" ({low}–{high})")


def game_theory_table(result: Ratings) -> Table | None:
    """α-Rank mass and Nash averaging (mass p, rating against the Nash mix), in BT order."""
    theory = result.game_theory
    if not theory:
        return None
    confidence = theory["confidence"]
    table = Table(
        title=f"Game-theoretic ratings [{confidence:.0%} CI, {theory['interval']}]",
        title_justify="left",
    )
    for column in ("entrant", "α-Rank π", "rank", "Nash p", "Nash rating"):
        table.add_column(column, justify="left" if column == "entrant" else "right", no_wrap=True)
    for row in result.leaderboard_table:
        if "alpharank" not in row:
            continue
        table.add_row(
            Text(row["entrant"], style="bold"),
            _share(row, "alpharank", ","),
            _rank_range(row, "alpharank"),
            f"{row['nash_mass']:.2f}",
            _share(row, "nash", ","),
        )
    return table


def notes(result: Ratings) -> list[str]:
    """The agreement verdict, the interval note and why game-theoretic ratings are missing."""
    out = []
    if result.game_theory:
        out.append(result.game_theory["verdict"]["line"])
    elif result.game_theory_error:
        out.append(f"α-Rank and Nash averaging not computed: {result.game_theory_error}")
    if result.interval_note:
        out.append(f"Intervals: {result.interval_note}.")
    return out


@dataclass
class TournamentView:
    """The report of one `kind: tournament` stage."""

    result: TournamentResult
    run_dir: Path | None = None

    def __rich__(self) -> Panel:
        r = self.result
        parts: list[Any] = [leaderboard_table(r)]
        payoff = payoff_table(r)
        if payoff is not None:
            parts.append(payoff)
        theory = game_theory_table(r)
        if theory is not None:
            parts.append(theory)
        parts += [Text(line, style="yellow" if "Disagree" in line else "") for line in notes(r)]
        if r.forfeits:
            forfeits = Table(title="Forfeits", title_justify="left")
            for column in ("game", "entrant", "reason"):
                forfeits.add_column(column)
            for f in r.forfeits[:10]:
                forfeits.add_row(str(f["game"]), f["entrant"], Text(f["reason"]))
            parts.append(forfeits)
        resumed = f", {r.games_resumed} resumed from the database" if r.games_resumed else ""
        parts.append(
            Text(
                f"{r.games_total} games ({r.format}, scoring by {r.scoring}){resumed}; "
                f"leaderboard {r.leaderboard!r} in {r.db}, run {r.run_id}",
                style="dim",
            )
        )
        if r.bradley_terry_error:
            parts.append(Text(f"Bradley–Terry not fitted: {r.bradley_terry_error}", style="yellow"))
        title = f"[bold]tournament[/] {r.name} · [cyan]{r.env['id']}[/]"
        return Panel(Group(*parts), title=title, title_align="left")


def tournament_markdown(result: TournamentResult) -> list[str]:
    """Markdown lines: the leaderboard table with intervals."""
    lines = [
        "| rank | entrant | rating (BT) | interval | Elo | games | W/D/L | forfeits |",
        "|---:|---|---:|---:|---:|---:|---|---:|",
    ]
    for row in result.leaderboard_table:
        lines.append(
            f"| {_rank(row)} | {row['entrant']} | {fmt(row.get('rating'), 0)} | "
            f"{_interval(row.get('ci_low'), row.get('ci_high'))} | {fmt(row.get('elo'), 0)} | "
            f"{row['games']} | {row['wins']}/{row['draws']}/{row['losses']} | "
            f"{row['forfeits']} |"
        )
    lines += [
        "",
        f"{result.games_total} games, root seed {result.seed}, leaderboard `{result.leaderboard}`.",
        "",
    ]
    theory = result.game_theory
    if theory:
        confidence = f"{theory['confidence']:.0%}"
        lines += [
            f"Game-theoretic ratings ({confidence} intervals, {theory['interval']}, "
            f"{theory['n_bootstrap']} resampled payoff tables; α-Rank m={theory['alpharank_m']}, "
            f"alpha={theory['alpharank_alpha']:g}):",
            "",
            "| entrant | α-Rank π | α-Rank rank | Nash mass | Nash rating | Nash rank |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in result.leaderboard_table:
            if "alpharank" in row:
                lines.append(
                    f"| {row['entrant']} | {_share(row, 'alpharank')} | "
                    f"{_rank_range(row, 'alpharank')} | {row['nash_mass']:.2f} | "
                    f"{_share(row, 'nash')} | {_rank_range(row, 'nash')} |"
                )
        names = theory["entrants"]
        lines += [
            "",
            f"Payoff: row's mean score against column, [{confidence} Jeffreys interval], games:",
            "",
            "| | " + " | ".join(names) + " |",
            "|---|" + "---:|" * len(names),
        ]
        for i, a in enumerate(names):
            cells = [
                "·"
                if i == j
                else f"{theory['payoff'][i][j]:.2f} [{theory['payoff_low'][i][j]:.2f}, "
                f"{theory['payoff_high'][i][j]:.2f}], {theory['games'][i][j]}"
                for j in range(len(names))
            ]
            lines.append(f"| {a} | " + " | ".join(cells) + " |")
        lines.append("")
    for line in notes(result):
        lines += [line, ""]
    return lines


def ratings_plot(result: TournamentResult, path: Path) -> bool:
    """Bradley–Terry ratings with their intervals as error bars (False when not fitted)."""
    rows = [r for r in result.leaderboard_table if r.get("rating") is not None]
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["entrant"] for r in rows][::-1]
    ratings = [r["rating"] for r in rows][::-1]
    # clamped: a zero-width interval can round to a tiny negative bar, which matplotlib refuses
    low = [
        max(0.0, r["rating"] - (r["ci_low"] if r["ci_low"] is not None else r["rating"]))
        for r in rows
    ][::-1]
    high = [
        max(0.0, (r["ci_high"] if r["ci_high"] is not None else r["rating"]) - r["rating"])
        for r in rows
    ][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(rows) + 1.5))
    ax.errorbar(ratings, range(len(rows)), xerr=[low, high], fmt="o", capsize=4, color="#4c72b0")
    ax.set_yticks(range(len(rows)), names)
    ax.set_xlabel("Bradley–Terry rating (Elo scale), 95% bootstrap interval")
    ax.set_title(f"tournament {result.name}: {result.games_total} games")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def show_leaderboard(
    db: Path | None,
    name: str | None,
    *,
    as_json: bool,
    console: Any,
    html: Path | bool | None = None,
) -> int:
    """`testbed leaderboard`: list the leaderboards of a database, or rate one of them
    (`html`: also write its page, to that path or, when True, next to the database)."""
    path = Path(db) if db is not None else DEFAULT_DB
    if not path.is_file():
        raise BadInput(
            f"leaderboard database {str(path)!r} not found",
            hint="run a `kind: tournament` scenario first, or pass --db",
        )
    store = LeaderboardStore(path)
    try:
        boards = store.leaderboards()
        if name is None and len(boards) != 1 and html:
            raise BadInput(
                f"--html needs a leaderboard NAME: {str(path)!r} has "
                f"{', '.join(b['leaderboard'] for b in boards) or 'none'}"
            )
        if name is None and len(boards) != 1:
            if as_json:
                print(json.dumps(boards, indent=2))
                return 0
            table = Table(title=f"leaderboards in {path}", title_justify="left")
            for column in ("leaderboard", "games", "runs"):
                table.add_column(column)
            for b in boards:
                table.add_row(Text(b["leaderboard"]), str(b["games"]), str(b["runs"]))
            console.print(table)
            return 0
        name = name or boards[0]["leaderboard"]
        known = [b["leaderboard"] for b in boards]
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            raise BadInput(
                f"no leaderboard {name!r} in {str(path)!r}; it has: {', '.join(known) or 'none'}",
                hint=f"did you mean {close[0]!r}?" if close else None,
            )
        games = store.games(leaderboard=name)
        result = rate(games, store.scoring(name), store.entrant_names(name), RatingOptions())
        runs = store.runs(name)
    finally:
        store.close()
    if html:
        page_path = path.parent / f"leaderboard-{slug(name)}.html" if html is True else html
        data = dataclasses.asdict(result)
        Path(page_path).write_text(
            leaderboard_page(name, data, runs, [g.to_dict() for g in games], path),
            encoding="utf-8",
        )
        console.print(f"wrote {page_path}", highlight=False)
    if as_json:
        print(
            json.dumps(
                {
                    "leaderboard": name,
                    "runs": runs,
                    "games": len(games),
                    **dataclasses.asdict(result),
                },
                indent=2,
            )
        )
        return 0
    console.print(leaderboard_table(result, title=f"Leaderboard {name!r}"))
    theory = game_theory_table(result)
    if theory is not None:
        console.print(theory)
    for line in notes(result):
        console.print(Text(line))
    unfinished = sum(r["status"] != "finished" for r in runs)
    note = f", {unfinished} unfinished (testbed run … --resume)" if unfinished else ""
    console.print(
        Text(f"{len(games)} games from {len(runs)} runs{note}; database {path}", style="dim")
    )
    return 0


def write_tournament_files(result: TournamentResult, out_dir: Path) -> None:
    """The stage's PNG: `ratings-<stage>.png`."""
    ratings_plot(result, out_dir / f"ratings-{slug(result.name)}.png")
