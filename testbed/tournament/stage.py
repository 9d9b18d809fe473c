"""`kind: tournament`: schedule the games, play them on the executor, store each as it ends,
then rate the entrants (Bradley–Terry with bootstrap intervals, Elo, Weng–Lin) and tabulate
cross-play. Resuming skips the games the store already holds for the interrupted run; the
final tables depend only on the schedule, so they equal an uninterrupted run's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from testbed.context import StageContext, StageResult
from testbed.errors import BadInput, RunFailed
from testbed.report.format import slug
from testbed.report.output import write_json
from testbed.rollout.executor import Executor
from testbed.rollout.workers import WorkerDied
from testbed.scenario.document import Scenario
from testbed.tournament.agreement import compare
from testbed.tournament.bradley_terry import bradley_terry
from testbed.tournament.metagame import choose_interval, game_theory
from testbed.tournament.play import GameResult, GameRunner, forfeit_result
from testbed.tournament.ratings import MatchResult, cross_play, elo, openskill_ratings
from testbed.tournament.schedule import Game, make_schedule
from testbed.tournament.store import DEFAULT_DB, LeaderboardStore

GameHook = Callable[[GameResult, int, int], None]


@dataclass
class Ratings:
    """What finished games say about the entrants: Bradley–Terry (with bootstrap intervals),
    Elo, Weng–Lin skills, the cross-play table, the forfeits, and the game-theoretic ratings
    (α-Rank, Nash averaging; `testbed.tournament.metagame`) with `game_theory["verdict"]`
    saying whether they agree with BT. `interval` is how intervals were resampled
    (`bootstrap` or `bayesian`) and `interval_note` why, when not the plain bootstrap."""

    matches: int = 0
    leaderboard_table: list[dict[str, Any]] = field(default_factory=list)
    bradley_terry: dict[str, Any] | None = None
    bradley_terry_error: str | None = None
    elo: dict[str, float] | None = None
    openskill: list[dict[str, Any]] = field(default_factory=list)
    cross_play: dict[str, Any] | None = None
    forfeits: list[dict[str, Any]] = field(default_factory=list)
    interval: str = "bootstrap"
    interval_note: str | None = None
    game_theory: dict[str, Any] | None = None
    game_theory_error: str | None = None


@dataclass
class TournamentResult(StageResult):
    """Ratings, cross-play, forfeits and every game of a tournament stage (the fields of
    `Ratings`, then the games)."""

    kind: ClassVar[str] = "tournament"

    format: str = "round_robin"
    scoring: str = "game"
    sides: dict[str, list[str]] = field(default_factory=dict)
    leaderboard: str = ""
    db: str = ""
    run_id: str = ""
    games_total: int = 0
    games_resumed: int = 0
    games_seconds: float = 0.0
    seed: int = 0
    matches: int = 0
    leaderboard_table: list[dict[str, Any]] = field(default_factory=list)
    bradley_terry: dict[str, Any] | None = None
    bradley_terry_error: str | None = None
    elo: dict[str, float] | None = None
    openskill: list[dict[str, Any]] = field(default_factory=list)
    cross_play: dict[str, Any] | None = None
    forfeits: list[dict[str, Any]] = field(default_factory=list)
    interval: str = "bootstrap"
    interval_note: str | None = None
    game_theory: dict[str, Any] | None = None
    game_theory_error: str | None = None
    games: list[dict[str, Any]] = field(default_factory=list)


def leaderboard_name(scenario: Scenario, index: int) -> str:
    stage = scenario.stages[index]
    if stage.leaderboard:
        return stage.leaderboard
    if len(scenario.stages) == 1:
        return scenario.name
    return f"{scenario.name}/{scenario.stage_name(index)}"


def db_path(scenario: Scenario, index: int, override: str | Path | None = None) -> Path:
    """--db, else the stage's `db` (relative to the scenario file), else runs/leaderboard.sqlite."""
    if override is not None:
        return Path(override)
    stage = scenario.stages[index]
    if stage.db is None:
        return DEFAULT_DB
    path = Path(stage.db)
    return path if path.is_absolute() or scenario.base_dir is None else scenario.base_dir / path


def fingerprint(scenario: Scenario, index: int) -> str:
    """What makes two runs the same tournament: the stage, its root seed and seed stream."""
    stage = scenario.stages[index]
    data = {
        "stage": stage.model_dump(mode="json", exclude={"db"}),
        "seed": scenario.stage_seed(index),
        "stream": scenario.seed_stream(index),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def check_tournament(scenario: Scenario, index: int) -> tuple[dict[str, list[str]], list[Game]]:
    """Build every entrant for every side it can play and the schedule, playing nothing:
    bad input fails here. Returns the sides and the games."""
    preflight = GameRunner(scenario, index)
    try:
        preflight.check_entrants()
        sides = preflight.sides
    finally:
        preflight.close()
    games = make_schedule(
        scenario.stages[index],
        len(sides),
        scenario.stage_seed(index),
        scenario.seed_stream(index),
        where=lambda field: scenario.where("stages", index, field),
    )
    return sides, games


def run_tournament(
    scenario: Scenario,
    index: int,
    executor: Executor,
    *,
    resume: bool = False,
    db: str | Path | None = None,
    on_schedule: Callable[[int, int], None] | None = None,
    on_game: GameHook | None = None,
    record: Path | None = None,
    resuming_folder: bool = False,
) -> TournamentResult:
    """Play (or finish) the stage's tournament; return its result.

    `record` is a file of the run folder naming the tournament's run in the database; when a
    run folder is resumed (`resuming_folder`), the run it names is finished (even a finished
    one: nothing is replayed). Otherwise `resume` finds the newest unfinished run of the same
    tournament in the database."""
    stage = scenario.stages[index]
    sides, games = check_tournament(scenario, index)
    board = leaderboard_name(scenario, index)
    store = LeaderboardStore(db_path(scenario, index, db))
    try:
        store.register_entrants(
            board,
            {n: e.model_dump(mode="json") for n, e in stage.entrants.items()},
            where=scenario.where("stages", index, "entrants"),
        )
        key = fingerprint(scenario, index)
        run_id = _recorded_run(record, store.path) if resuming_folder else None
        if run_id is None and resume:
            run_id = store.resumable_run(board, key)
            if run_id is None and not resuming_folder:
                raise BadInput(
                    f"nothing to resume: leaderboard {board!r} in {str(store.path)!r} has no "
                    "unfinished run of this tournament (same stage and seed)",
                    hint="run without --resume to start it",
                )
        if run_id is None:
            run_id = store.begin_run(
                leaderboard=board,
                scenario=scenario.name,
                stage=scenario.stage_name(index),
                fingerprint=key,
                env=stage.env.id,
                scoring=stage.scoring,
                games_total=len(games),
            )
        if record is not None:
            record.parent.mkdir(parents=True, exist_ok=True)
            write_json(record, {"run_id": run_id, "leaderboard": board, "db": str(store.path)})
        done = {g.index: g for g in store.games(run_id=run_id)}
        todo = [g for g in games if g.index not in done]
        if on_schedule is not None:
            on_schedule(len(games), len(done))
        results = dict(done)
        for position, outcome in executor.imap_tasks(
            GameRunner, (scenario, index), [(g,) for g in todo]
        ):
            result = _game_result(todo[position], outcome)
            results[result.index] = result
            if on_game is not None:  # first: a game in the database is in the run's log too
                on_game(result, len(results), len(games))
            store.record(run_id, board, result)
        store.finish_run(run_id)
    finally:
        store.close()
    ordered = [results[g.index] for g in games]
    summary = rate(
        ordered, stage.scoring, list(stage.entrants), stage.ratings, seed=scenario.stage_seed(index)
    )
    return TournamentResult(
        name=scenario.stage_name(index),
        env={"id": stage.env.id, "params": stage.env.params},
        format=stage.format,
        scoring=stage.scoring,
        sides=sides,
        leaderboard=board,
        db=str(db_path(scenario, index, db)),
        run_id=run_id,
        games_total=len(games),
        games_resumed=len(done),
        games_seconds=sum(g.seconds for g in ordered),
        seed=scenario.stage_seed(index),
        **vars(summary),
        games=[g.to_dict() for g in ordered],
    )


def _recorded_run(record: Path | None, db: Path) -> str | None:
    """The run id a run folder recorded for this tournament, if it used this database."""
    if record is None or not record.is_file():
        return None
    data = json.loads(record.read_text(encoding="utf-8"))
    same_db = Path(data.get("db", "")).resolve() == Path(db).resolve()
    return data.get("run_id") if same_db else None


def _game_result(game: Game, outcome: GameResult | WorkerDied) -> GameResult:
    """A played game, or the forfeit of the entrant whose move killed its worker process."""
    if not isinstance(outcome, WorkerDied):
        return outcome
    entrant = (outcome.activity or {}).get("entrant")
    if entrant is None:
        raise RunFailed(
            f"game {game.index} ({' vs '.join(game.entrants)}, seed {game.seed}): "
            f"{outcome.reason}, twice, while no entrant was moving (the env?)"
        )
    what = outcome.activity.get("what", "a move") if outcome.activity else "a move"
    return forfeit_result(game, entrant, f"{outcome.reason}, during {what}")


def run_tournament_stage(context: StageContext) -> TournamentResult:
    """The table's entry: `run_tournament` with a progress bar of games, forfeits, last game."""
    forfeits = 0
    context.progress.start(f"tournament {context.name}")

    def on_schedule(total: int, done: int) -> None:
        resumed = f"resumed: {done} games already played" if done else ""
        context.progress.update(total=total, completed=done, status=resumed)

    def on_game(game: GameResult, done: int, total: int) -> None:
        nonlocal forfeits
        if context.log is not None:  # seed, actions and record, for `testbed replay --game`
            context.log.write(game.log_entry(context.name))
        forfeits += game.forfeit_entrant is not None
        status = " vs ".join(game.entrants) + (f" · forfeits {forfeits}" if forfeits else "")
        context.progress.update(completed=done, status=status)

    assert context.executor is not None
    out = context.options.out_dir
    return run_tournament(
        context.scenario,
        context.index,
        context.executor,
        resume=context.options.resume,
        db=context.options.db,
        on_schedule=on_schedule,
        on_game=on_game,
        record=out / slug(context.name) / "tournament.json" if out is not None else None,
        resuming_folder=context.resume is not None,
    )


def to_matches(games: Sequence[GameResult], scoring: str) -> list[MatchResult]:
    """Rated matches: every game (`game`), or each group of seat rotations summed (`match`)."""
    if scoring == "game":
        return [MatchResult(tuple(g.entrants), tuple(g.scores)) for g in games]
    matches: list[MatchResult] = []
    group: list[GameResult] = []
    for game in [*games, None]:
        if group and (
            game is None
            or game.group != group[0].group
            or game.round != group[0].round
            or game.index <= group[-1].index
        ):
            matches.append(_summed(group))
            group = []
        if game is not None:
            group.append(game)
    return matches


def _summed(group: list[GameResult]) -> MatchResult:
    names = list(dict.fromkeys(group[0].entrants))
    totals = dict.fromkeys(names, 0.0)
    forfeits = {g.forfeit_entrant for g in group if g.forfeit_entrant}
    for game in group:
        if game.forfeit_entrant is None:
            for entrant, score in zip(game.entrants, game.scores, strict=True):
                totals[entrant] += score
    if forfeits:
        floor = min(totals.values()) - 1.0
        totals = {e: (floor if e in forfeits else 1.0 + max(totals.values())) for e in names}
    return MatchResult(tuple(names), tuple(totals[e] for e in names))


def rate(
    games: Sequence[GameResult], scoring: str, entrants: list[str], options: Any, *, seed: int = 0
) -> Ratings:
    """Ratings, cross-play and forfeits of finished games."""
    matches = to_matches(games, scoring)
    seen = [e for e in entrants if any(e in m.entrants for m in matches)]
    two_sided = all(len(m.entrants) == 2 for m in matches)
    bt, bt_error, elo_ratings = None, None, None
    table = cross_play(matches, seen) if matches else None
    interval, interval_note = choose_interval(table, options.interval)
    if two_sided and matches:
        elo_ratings = elo(matches, k=options.elo_k, entrants=seen)
        try:
            bt = bradley_terry(
                matches,
                entrants=seen,
                n_bootstrap=options.bootstrap,
                confidence=options.confidence,
                seed=seed,
                resample="pairing" if interval == "bootstrap" else "bayesian",
            )
        except ValueError as exc:  # e.g. entrants in disconnected groups
            bt_error = str(exc)
    skills = openskill_ratings(matches) if matches else []
    forfeits = [
        {
            "game": g.index,
            "entrant": g.forfeit_entrant,
            "reason": g.forfeit_reason,
            "entrants": g.entrants,
            "seed": g.seed,
        }
        for g in games
        if g.forfeit_entrant
    ]
    rows = []
    order = [r.entrant for r in bt.ratings] if bt else [s.entrant for s in skills]
    skill_of = {s.entrant: s for s in skills}
    for name in order:
        i = seen.index(name)
        row: dict[str, Any] = {
            "entrant": name,
            "games": int(table.games[i].sum()) if table is not None else 0,
            "wins": int(table.wins[i].sum()) if table is not None else 0,
            "draws": int(table.draws[i].sum()) if table is not None else 0,
            "losses": int(table.losses[i].sum()) if table is not None else 0,
            "forfeits": sum(1 for f in forfeits if f["entrant"] == name),
            "elo": None if elo_ratings is None else elo_ratings[name],
            "mu": skill_of[name].mu if name in skill_of else None,
            "sigma": skill_of[name].sigma if name in skill_of else None,
            "ordinal": skill_of[name].ordinal if name in skill_of else None,
        }
        if bt is not None:
            r = bt[name]
            row.update(
                rating=r.rating,
                ci_low=r.ci_low,
                ci_high=r.ci_high,
                rank=r.rank,
                rank_low=r.rank_low,
                rank_high=r.rank_high,
                score=r.score,
            )
        rows.append(row)
    theory, theory_error = None, None
    if not options.game_theory:
        theory_error = "turned off (ratings: {game_theory: false})"
    elif not two_sided:
        theory_error = "needs two-sided games (free-for-all matches have more sides)"
    elif table is not None:
        try:
            theory = game_theory(
                table,
                n_bootstrap=options.game_theory_bootstrap,
                interval=interval,
                confidence=options.confidence,
                m=options.alpharank_m,
                alpha=options.alpharank_alpha,
                seed=seed,
            )
        except ValueError as exc:  # e.g. a gauntlet: challengers never meet
            theory_error = str(exc)
    if theory is not None:
        theory["verdict"] = compare(theory, [r["entrant"] for r in rows])
        extra = {r["entrant"]: r for r in theory["ratings"]}
        for row in rows:
            row.update({k: v for k, v in extra[row["entrant"]].items() if k != "entrant"})
    return Ratings(
        matches=len(matches),
        leaderboard_table=rows,
        bradley_terry=bt.to_dict() if bt else None,
        bradley_terry_error=bt_error,
        elo=elo_ratings,
        openskill=[vars(s) for s in skills],
        cross_play=table.to_dict() if table is not None else None,
        forfeits=forfeits,
        interval=interval,
        interval_note=interval_note,
        game_theory=theory,
        game_theory_error=theory_error,
    )
