"""Re-run one recorded episode exactly from its seed, optionally writing rendered frames."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from testbed.errors import BadInput, RunFailed
from testbed.registry import registered_only
from testbed.rollout.build import build_env, build_team
from testbed.rollout.episode import EpisodeRecord, run_episode
from testbed.scenario.document import Scenario
from testbed.scenario.yamlsrc import Source
from testbed.stages import parse_scenario


def load_run(run_dir: Path) -> tuple[Scenario, list[dict[str, Any]]]:
    """The scenario a run used (as validated then) and its episode log."""
    result_path, log_path = run_dir / "result.json", run_dir / "episodes.jsonl"
    if not result_path.is_file() or not log_path.is_file():
        raise BadInput(
            f"{str(run_dir)!r} is not a run directory (needs result.json and episodes.jsonl)"
        )
    result = json.loads(result_path.read_text(encoding="utf-8"))
    if "scenario_data" not in result:
        raise BadInput(f"{result_path} was written by an older testbed and cannot be replayed")
    base_dir = Path(result["base_dir"]) if result.get("base_dir") else None
    scenario = parse_scenario(result["scenario_data"], Source(str(result_path)), base_dir)
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
        import imageio.v2 as imageio

        imageio.mimsave(gif, frames, duration=1000 / fps, loop=0)
    return recorded, record, len(frames)


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
