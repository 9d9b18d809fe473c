"""The leaderboard of a self-play run: a real `kind: tournament` scenario, written to YAML and
played by the tournament stage, rating the run's snapshots (checkpoint entrants) against fixed
entrants (scripted bots, random), so the snapshots enter the persistent leaderboard database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from testbed.context import RunResult
from testbed.registry.catalog_agents import AGENTS
from testbed.report.output import write_json
from testbed.rollout.backends import make_executor
from testbed.scenario.document import load_scenario
from testbed.scenario.references import check_references
from testbed.tournament.report import ratings_plot
from testbed.tournament.spec import TournamentStage
from testbed.tournament.stage import TournamentResult, run_tournament
from testbed.tournament.store import DEFAULT_DB


def snapshot_entrant(run_name: str, step: int) -> str:
    """The leaderboard name of a snapshot: unique per run folder, so runs accumulate."""
    return f"{run_name}/step-{step}"


def default_entrants(env_id: str) -> dict[str, dict[str, Any]]:
    """`random` and every agent registered for the env, with default params."""
    entrants: dict[str, dict[str, Any]] = {"random": {"id": "random"}}
    for agent_id, spec in AGENTS.items():
        if env_id in (getattr(spec, "envs", None) or ()):
            entrants[agent_id] = {"id": agent_id}
    return entrants


def leaderboard_scenario(
    *,
    name: str,
    env: dict[str, Any],
    snapshots: dict[str, str | Path],
    entrants: dict[str, dict[str, Any]],
    leaderboard: str,
    db: str | Path,
    seed: int,
    rounds: int = 10,
    max_steps: int | None = None,
    description: str = "",
) -> dict[str, Any]:
    """A `kind: tournament` scenario (plain data, for YAML) rating snapshots (name ->
    checkpoint folder) against fixed entrants (name -> entrant mapping), round robin."""
    data: dict[str, Any] = {
        "name": name,
        "description": description or "self-play snapshots against fixed entrants",
        "seed": int(seed),
        "kind": "tournament",
        "env": env,
        "format": "round_robin",
        "rounds": int(rounds),
        "leaderboard": leaderboard,
        "db": str(Path(db).resolve()),
        "entrants": {
            **{n: {"checkpoint": str(Path(p).resolve())} for n, p in snapshots.items()},
            **entrants,
        },
    }
    if max_steps is not None:
        data["max_steps"] = int(max_steps)
    return data


def run_leaderboard(data: dict[str, Any], folder: Path, *, workers: int = 1) -> TournamentResult:
    """Write the tournament scenario to `folder/leaderboard.yaml`, play it (games go to the
    leaderboard database), write its result to `folder/leaderboard/result.json` and its ratings
    plot; return the tournament's result."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "leaderboard.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    scenario = load_scenario(path, kinds={"tournament": TournamentStage})
    check_references(scenario)
    result = run_tournament(scenario, 0, make_executor(workers))
    (folder / "leaderboard").mkdir(exist_ok=True)
    document = RunResult(scenario.name, scenario.model_dump(mode="json"), stages=[result])
    write_json(folder / "leaderboard" / "result.json", document.to_dict())
    ratings_plot(result, folder / "leaderboard" / "ratings.png")
    return result


def db_path(override: str | Path | None, option: str | None, base_dir: Path | None) -> Path:
    """--db, else `self_play.db` (relative to the scenario file), else the default file."""
    if override is not None:
        return Path(override)
    if option is None:
        return DEFAULT_DB
    path = Path(option)
    return path if path.is_absolute() or base_dir is None else base_dir / path


__all__ = [
    "db_path",
    "default_entrants",
    "leaderboard_scenario",
    "run_leaderboard",
    "snapshot_entrant",
]
