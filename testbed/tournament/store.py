"""The persistent leaderboard: a SQLite file with one row per finished tournament game.

Each game is committed as it finishes (WAL journal), so a crash or `kill -9` loses at most
the games in flight; `--resume` continues the interrupted run (same schedule, same run id)
and skips the games it already holds. Leaderboards accumulate across runs: a leaderboard is
every game recorded under its name, and an entrant name means one agent definition per
leaderboard (re-using a name for a different agent is refused).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from testbed.errors import BadInput
from testbed.tournament.play import GameResult

DEFAULT_DB = Path("runs") / "leaderboard.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    leaderboard TEXT NOT NULL,
    scenario TEXT NOT NULL,
    stage TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    env TEXT NOT NULL,
    scoring TEXT NOT NULL,
    games_total INTEGER NOT NULL,
    status TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS games (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    game_index INTEGER NOT NULL,
    leaderboard TEXT NOT NULL,
    round INTEGER NOT NULL,
    game_group INTEGER NOT NULL,
    entrants TEXT NOT NULL,
    seed INTEGER NOT NULL,
    scores TEXT NOT NULL,
    returns TEXT NOT NULL,
    length INTEGER NOT NULL,
    forfeit_entrant TEXT,
    forfeit_reason TEXT,
    seconds REAL NOT NULL,
    finished REAL NOT NULL,
    PRIMARY KEY (run_id, game_index)
);
CREATE TABLE IF NOT EXISTS entrants (
    leaderboard TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    PRIMARY KEY (leaderboard, name)
);
"""


class LeaderboardStore:
    """A connection to one leaderboard database (created on first use)."""

    def __init__(self, path: str | Path = DEFAULT_DB):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise BadInput(f"leaderboard database {str(self.path)!r}: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    # -- runs ------------------------------------------------------------------------------

    def begin_run(
        self,
        *,
        leaderboard: str,
        scenario: str,
        stage: str,
        fingerprint: str,
        env: str,
        scoring: str,
        games_total: int,
    ) -> str:
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        with self.db:
            self.db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, NULL)",
                (
                    run_id,
                    leaderboard,
                    scenario,
                    stage,
                    fingerprint,
                    env,
                    scoring,
                    games_total,
                    time.time(),
                ),
            )
        return run_id

    def resumable_run(self, leaderboard: str, fingerprint: str) -> str | None:
        """The newest unfinished run of exactly this tournament (same stage and seed)."""
        row = self.db.execute(
            "SELECT run_id FROM runs WHERE leaderboard = ? AND fingerprint = ? AND "
            "status != 'finished' ORDER BY started DESC LIMIT 1",
            (leaderboard, fingerprint),
        ).fetchone()
        return row[0] if row else None

    def finish_run(self, run_id: str) -> None:
        with self.db:
            self.db.execute(
                "UPDATE runs SET status = 'finished', finished = ? WHERE run_id = ?",
                (time.time(), run_id),
            )

    def register_entrants(
        self, leaderboard: str, specs: dict[str, dict[str, Any]], *, where: str | None = None
    ) -> None:
        """Record what each entrant name means; refuse a name re-used for another agent."""
        for name, spec in specs.items():
            text = json.dumps(spec, sort_keys=True)
            row = self.db.execute(
                "SELECT spec FROM entrants WHERE leaderboard = ? AND name = ?",
                (leaderboard, name),
            ).fetchone()
            if row is None:
                with self.db:
                    self.db.execute(
                        "INSERT INTO entrants VALUES (?, ?, ?)", (leaderboard, name, text)
                    )
            elif row[0] != text:
                raise BadInput(
                    f"entrant {name!r} of leaderboard {leaderboard!r} was {row[0]} in earlier "
                    f"runs, now {text}",
                    where=where,
                    hint="give the changed agent a new entrant name, or use another `leaderboard:`",
                )

    # -- games -----------------------------------------------------------------------------

    def record(self, run_id: str, leaderboard: str, game: GameResult) -> None:
        """Commit one finished game (durable once this returns)."""
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO games VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    game.index,
                    leaderboard,
                    game.round,
                    game.group,
                    json.dumps(game.entrants),
                    game.seed,
                    json.dumps(game.scores),
                    json.dumps(game.returns),
                    game.length,
                    game.forfeit_entrant,
                    game.forfeit_reason,
                    game.seconds,
                    time.time(),
                ),
            )

    def games(
        self, *, run_id: str | None = None, leaderboard: str | None = None
    ) -> list[GameResult]:
        """Games of one run (schedule order) or of a whole leaderboard (run, then order).

        A leaderboard counts each tournament (same stage and seed) once: a re-run replaces
        the games of the earlier run of it; other seeds or other entrants add games."""
        if run_id is not None:
            where, args = "run_id = ?", (run_id,)
        elif leaderboard is not None:
            where = (
                "g.run_id IN (SELECT r1.run_id FROM runs r1 WHERE r1.leaderboard = ? AND "
                "r1.started = (SELECT MAX(r2.started) FROM runs r2 WHERE "
                "r2.leaderboard = r1.leaderboard AND r2.fingerprint = r1.fingerprint))"
            )
            args = (leaderboard,)
        else:
            raise ValueError("give run_id or leaderboard")
        rows = self.db.execute(
            "SELECT game_index, round, game_group, entrants, seed, scores, returns, length, "
            "forfeit_entrant, forfeit_reason, seconds FROM games g "
            f"WHERE {where} ORDER BY (SELECT started FROM runs r WHERE r.run_id = g.run_id), "
            "game_index",
            args,
        ).fetchall()
        return [
            GameResult(
                r[0],
                r[1],
                r[2],
                json.loads(r[3]),
                r[4],
                json.loads(r[5]),
                json.loads(r[6]),
                r[7],
                r[8],
                r[9],
                r[10],
            )
            for r in rows
        ]

    def leaderboards(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT leaderboard, COUNT(*), COUNT(DISTINCT run_id), MAX(finished) FROM games "
            "GROUP BY leaderboard ORDER BY leaderboard"
        ).fetchall()
        return [{"leaderboard": r[0], "games": r[1], "runs": r[2], "last": r[3]} for r in rows]

    def entrant_names(self, leaderboard: str) -> list[str]:
        rows = self.db.execute(
            "SELECT name FROM entrants WHERE leaderboard = ? ORDER BY rowid", (leaderboard,)
        ).fetchall()
        return [r[0] for r in rows]

    def scoring(self, leaderboard: str) -> str:
        row = self.db.execute(
            "SELECT scoring FROM runs WHERE leaderboard = ? ORDER BY started DESC LIMIT 1",
            (leaderboard,),
        ).fetchone()
        return row[0] if row else "game"

    def runs(self, leaderboard: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT run_id, scenario, stage, env, games_total, status, started, "
            "(SELECT COUNT(*) FROM games g WHERE g.run_id = r.run_id) FROM runs r "
            "WHERE leaderboard = ? ORDER BY started",
            (leaderboard,),
        ).fetchall()
        keys = (
            "run_id",
            "scenario",
            "stage",
            "env",
            "games_total",
            "status",
            "started",
            "games_done",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]
