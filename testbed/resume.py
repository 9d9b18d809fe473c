"""Continuing an interrupted run in its own folder (`testbed run FILE --resume`).

A run folder records what finished as it finishes: every episode in episodes.jsonl, every
tournament game in the leaderboard database (the tournament's run id in
`<stage>/tournament.json`), training checkpoints under `<stage>/checkpoints/`, each finished
stage in result.json. `RunFolder.open` checks that the folder holds an unfinished run of the
same scenario; the stage kinds then skip what is there: episodes are read back instead of
played, games are not replayed, a finished training stage is read back and an unfinished one
continues from its newest checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from testbed.errors import BadInput
from testbed.rollout.episode import EpisodeRecord


class RunFolder:
    """What an interrupted run left in its folder."""

    def __init__(self, folder: Path, stages: list[dict[str, Any]], episodes: list[dict]):
        self.folder = folder
        self.stages = {s["name"]: s for s in stages if "name" in s}
        self._episodes: dict[tuple[str, str], dict[int, EpisodeRecord]] = {}
        for line in episodes:
            key = (line["stage"], line.get("subject", "agents"))
            self._episodes.setdefault(key, {})[int(line["episode"])] = EpisodeRecord.from_dict(line)

    @classmethod
    def open(cls, folder: Path, scenario_data: dict[str, Any]) -> RunFolder:
        """The run in `folder`, which must be an unfinished run of this very scenario."""
        result_path = folder / "result.json"
        if not result_path.is_file():
            raise BadInput(
                f"nothing to resume in {str(folder)!r}: it holds no run (no result.json)",
                hint="run without --resume to start one there",
            )
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadInput(f"{result_path}: not a testbed result ({exc})") from None
        if result.get("status") == "ok":
            raise BadInput(
                f"the run in {str(folder)!r} finished; there is nothing to resume",
                hint="choose another --out to run it again",
            )
        difference = _first_difference(result.get("scenario_data"), scenario_data)
        if difference is not None:
            raise BadInput(
                f"the run in {str(folder)!r} was of another scenario (it differs at "
                f"{difference}); resume with the same file, --set and --seed",
            )
        return cls(folder, result.get("stages") or [], read_episode_log(folder))

    def episodes(self, stage: str, subject: str = "agents") -> dict[int, EpisodeRecord]:
        """Episodes of a stage the interrupted run finished, by number."""
        return dict(self._episodes.get((stage, subject), {}))

    def finished(self, stage: str) -> dict[str, Any] | None:
        """The result (as written to result.json) of a stage that finished, else None."""
        return self.stages.get(stage)


def find_unfinished(root: Path, scenario_data: dict[str, Any]) -> Path | None:
    """The newest run folder under `root` holding an unfinished run of this very scenario."""
    found = []
    for result_path in root.glob("*/result.json"):
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if result.get("status") == "ok" or result.get("scenario_data") != scenario_data:
            continue
        found.append((result_path.stat().st_mtime, result_path.parent))
    return max(found)[1] if found else None


def read_episode_log(folder: Path) -> list[dict[str, Any]]:
    """The complete lines of episodes.jsonl; a last line cut by a kill is dropped (and the
    file truncated to the last complete line, so appending goes on cleanly)."""
    path = folder / "episodes.jsonl"
    if not path.is_file():
        return []
    data = path.read_bytes()
    lines, complete = [], 0
    for raw in data.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            break
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            break
        complete += len(raw)
    if complete < len(data):
        with path.open("r+b") as log:
            log.truncate(complete)
    return lines


def _first_difference(old: Any, new: Any, path: str = "") -> str | None:
    """The first field path where two scenario dumps differ, else None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            found = _first_difference(old.get(key), new.get(key), f"{path}.{key}" if path else key)
            if found is not None:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for k, (a, b) in enumerate(zip(old, new, strict=True)):
            found = _first_difference(a, b, f"{path}.{k}" if path else str(k))
            if found is not None:
                return found
        return None
    return None if old == new else (path or "the top level")
