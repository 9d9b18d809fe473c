"""Re-run one recorded episode or tournament game exactly, optionally writing its frames.

An episode (evaluate, audit, collect stages) is re-run with the scenario's agents from its
recorded seed. A tournament game is replayed from its recorded seed and actions (episodes.jsonl,
subject `game`): no entrant's code or checkpoint is loaded, so any game of a finished run can be
watched. Both are checked against the recorded returns, costs and length. Frames go to a GIF
(imageio) or an MP4 (imageio-ffmpeg, H.264), chosen by the file's suffix.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from testbed.errors import BadInput, RunFailed
from testbed.registry import registered_only
from testbed.rollout.build import build_env, build_team
from testbed.rollout.episode import EpisodeRecord, run_episode
from testbed.rollout.recorded import RecordedTeam, ReplayDiverged, ReplayExhausted
from testbed.scenario.document import Scenario
from testbed.scenario.yamlsrc import Source
from testbed.stages import parse_scenario


def load_run(run_dir: Path, check_refs: bool = True) -> tuple[Scenario, list[dict[str, Any]]]:
    """The scenario a run used (as validated then) and its episode log (`check_refs`: also
    check, and so import, what its stages name, as a run does)."""
    result_path, log_path = run_dir / "result.json", run_dir / "episodes.jsonl"
    if not result_path.is_file() or not log_path.is_file():
        raise BadInput(
            f"{str(run_dir)!r} is not a run directory (needs result.json and episodes.jsonl)"
        )
    result = json.loads(result_path.read_text(encoding="utf-8"))
    if "scenario_data" not in result:
        raise BadInput(f"{result_path} was written by an older testbed and cannot be replayed")
    base_dir = Path(result["base_dir"]) if result.get("base_dir") else None
    scenario = parse_scenario(
        result["scenario_data"], Source(str(result_path)), base_dir, check_refs=check_refs
    )
    episodes = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()]
    return scenario, episodes


def replay(
    run_dir: Path,
    episode: int,
    stage: str | None = None,
    gif: Path | None = None,
    fps: int = 15,
    *,
    trust_code: bool = False,
) -> tuple[dict[str, Any], EpisodeRecord, int]:
    """Replay episode `episode` of `stage` (default: the first); returns (recorded, replayed,
    frames written). A run folder is data: the code its scenario named (`file.py:Name`,
    `module:attr`) is imported only with `trust_code`."""
    refusal = "a run folder imports the code it names only with --trust-code"
    with nullcontext() if trust_code else registered_only(refusal):
        return _replay(run_dir, episode, stage, gif, fps)


def _replay(
    run_dir: Path, episode: int, stage: str | None, gif: Path | None, fps: int
) -> tuple[dict[str, Any], EpisodeRecord, int]:
    scenario, episodes = load_run(run_dir)
    names = [scenario.stage_name(i) for i in range(len(scenario.stages))]
    name = stage or names[0]
    if name not in names:
        raise BadInput(f"run has no stage {name!r}; its stages: {', '.join(names)}")
    index = names.index(name)
    recorded = next(
        (
            e
            for e in episodes
            if e["stage"] == name
            and e["episode"] == episode
            and e.get("subject", "agents") == "agents"
        ),
        None,
    )
    if recorded is None:
        played = sorted(e["episode"] for e in episodes if e["stage"] == name)
        raise BadInput(
            f"stage {name!r} recorded no episode {episode} (it has "
            f"{len(played)} episodes: 0..{played[-1] if played else -1})"
        )
    extra = {"render_mode": "rgb_array"} if gif else {}
    env = build_env(scenario, index, **extra)
    team, _ = build_team(scenario, index, env)
    frames: list[Any] = []

    def grab(*_: Any) -> None:
        frame = env.render()
        if frame is not None:
            frames.append(frame)

    try:
        record = run_episode(
            env,
            team,
            recorded["seed"],
            scenario.stages[index].max_steps,
            on_step=grab if gif else None,
        )
    finally:
        env.close()
    if gif:
        if not frames:
            raise RunFailed(f"env {scenario.stages[index].env.id!r} rendered no frames")
        write_video(gif, frames, fps)
    return recorded, record, len(frames)


VIDEO_SUFFIXES = (".gif", ".mp4")


def write_video(path: Path, frames: list[Any], fps: int) -> None:
    """Frames (H x W x 3 uint8) as a looping GIF, or as an H.264 MP4 (imageio-ffmpeg's own
    ffmpeg binary, padded to a multiple of 16 pixels as the codec wants)."""
    import imageio.v2 as imageio
    import numpy as np

    suffix = Path(path).suffix.lower()
    if suffix == ".gif":
        imageio.mimsave(path, frames, duration=1000 / fps, loop=0)
        return
    if suffix != ".mp4":
        raise BadInput(f"{str(path)!r}: a video file must end in .gif or .mp4")
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        raise BadInput(
            "writing MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg); .gif needs nothing"
        ) from None
    height, width = np.asarray(frames[0]).shape[:2]
    pad = ((0, -height % 16), (0, -width % 16), (0, 0))
    with imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264") as writer:
        for frame in frames:
            writer.append_data(np.pad(np.asarray(frame)[..., :3], pad))


def replay_game(
    run_dir: Path,
    game: int,
    stage: str | None = None,
    video: Path | None = None,
    fps: int = 15,
    *,
    trust_code: bool = False,
) -> tuple[dict[str, Any], EpisodeRecord, int, str | None]:
    """Replay tournament game `game` of `stage` (default: the run's first tournament) from its
    recorded seed and actions; returns (recorded line, replayed record, frames written, why the
    replay stopped early or None). No entrant is loaded; an env the scenario names by code
    (`module:attr`) is imported only with `trust_code`."""
    refusal = "a run folder imports the code it names only with --trust-code"
    with nullcontext() if trust_code else registered_only(refusal):
        return _replay_game(run_dir, game, stage, video, fps)


def _replay_game(
    run_dir: Path, game: int, stage: str | None, video: Path | None, fps: int
) -> tuple[dict[str, Any], EpisodeRecord, int, str | None]:
    scenario, episodes = load_run(run_dir, check_refs=False)
    names = [scenario.stage_name(i) for i in range(len(scenario.stages))]
    tournaments = [n for i, n in enumerate(names) if scenario.stages[i].kind == "tournament"]
    if not tournaments:
        raise BadInput(f"run {str(run_dir)!r} has no tournament stage; its stages: "
                       f"{', '.join(names)}")  # fmt: skip
    name = stage or tournaments[0]
    if name not in tournaments:
        raise BadInput(f"run has no tournament stage {name!r}; its tournaments: "
                       f"{', '.join(tournaments)}")  # fmt: skip
    games = {e["episode"]: e for e in episodes if e["stage"] == name and e.get("subject") == "game"}
    if game not in games:
        have = f"games {min(games)}..{max(games)}" if games else "no recorded games"
        raise BadInput(
            f"tournament {name!r} recorded no game {game} (it has {have})",
            hint="a game played before the run was resumed from the leaderboard database "
            "into another folder is in that earlier run's folder",
        )
    recorded = games[game]
    index = names.index(name)
    env = build_env(scenario, index, **({"render_mode": "rgb_array"} if video else {}))
    team = RecordedTeam(recorded["actions"])
    frames: list[Any] = []

    def grab(*_: Any) -> None:
        frame = env.render()
        if frame is not None:
            frames.append(frame)

    stopped = None
    record = EpisodeRecord(recorded["seed"], 0, {})
    try:
        record = run_episode(env, team, recorded["seed"], scenario.stages[index].max_steps,
                             on_step=grab if video else None)  # fmt: skip
    except ReplayExhausted as exc:
        stopped = f"{exc} (the game ended by forfeit: {recorded.get('forfeit_reason')})"
        record = EpisodeRecord(recorded["seed"], team.position, {})
    except ReplayDiverged as exc:
        raise RunFailed(f"game {game} did not replay: {exc} (a nondeterministic env?)") from None
    finally:
        env.close()
    if video:
        if not frames:
            raise RunFailed(f"env {scenario.stages[index].env.id!r} rendered no frames")
        write_video(video, frames, fps)
    return recorded, record, len(frames), stopped


def same_episode(recorded: dict[str, Any], record: EpisodeRecord, tol: float = 1e-9) -> bool:
    """True when the replay reproduced the recorded returns, costs and length."""
    replayed = record.to_dict()
    if recorded["length"] != replayed["length"]:
        return False
    for agent, rec in recorded["agents"].items():
        mine = replayed["agents"].get(agent)
        if mine is None or any(abs(rec[k] - mine[k]) > tol for k in ("return", "cost")):
            return False
    return True


def replay_command(args: Any, console: Any) -> int:
    """`testbed replay`: the command's checks, the replay, and what it prints; the exit code."""
    if args.gif and args.mp4:
        raise BadInput("give --gif or --mp4, not both")
    if args.fps < 1:
        raise BadInput(f"--fps must be at least 1, got {args.fps}")
    video = args.gif or args.mp4
    for flag, path, suffix in (("--gif", args.gif, ".gif"), ("--mp4", args.mp4, ".mp4")):
        if path is not None and path.suffix.lower() != suffix:
            raise BadInput(f"{flag} {str(path)!r}: the file name must end in {suffix}")
    stopped = None
    if args.game is not None:
        recorded, record, frames, stopped = replay_game(
            args.run_dir, args.game, args.stage, video, args.fps, trust_code=args.trust_code
        )
        what = f"game {args.game} ({' vs '.join(recorded['entrants'])}, seed {recorded['seed']})"
    else:
        recorded, record, frames = replay(
            args.run_dir, args.episode, args.stage, video, args.fps, trust_code=args.trust_code
        )
        what = f"episode {args.episode} (seed {recorded['seed']})"
    console.print(
        f"{what}: length {record.length}, team return {record.team_return:.4g}, "
        f"team cost {record.team_cost:.4g}",
        highlight=False,
    )
    if video:
        console.print(f"wrote {frames} frames to {video}", highlight=False)
    if stopped is not None:
        console.print(f"[yellow]replayed up to the forfeit[/]: {stopped}", highlight=False)
        return 0
    if not same_episode(recorded, record):
        console.print(
            "[bold red]the replay differs from the recorded episode[/] "
            "(a nondeterministic env or agent?)"
        )
        return 3
    console.print("[green]identical to the recorded " + ("game" if args.game is not None
                  else "episode") + "[/]")  # fmt: skip
    return 0
