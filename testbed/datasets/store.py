"""Minari datasets on disk: where they live, writing collected episodes, reading them back
checked, listing them.

Datasets live under `MINARI_DATASETS_PATH` when it is set, else `runs/datasets` (in the
folder testbed runs from), and are never downloaded. A dataset id is Minari's
`[namespace/]name-vN`. A single-agent env writes one dataset under that id; a multi-agent env
writes **one dataset per agent**, `[namespace/]name/<agent>-vN` (each with that agent's spaces;
the episodes of all of them share their seeds, so episode k of every agent is the same game).

Each episode stores what Minari's own collector stores (observations: steps + 1, the first
from `reset`; actions, rewards, terminations, truncations: one per step) plus its `seed`
(Minari's episode metadata) and, in `infos`, the per-step `cost` (`infos["cost"][t + 1]` is
the cost of step t; entry 0 belongs to `reset` and is 0). Minari's `DataCollector` is not
used: in minari 0.5.3 it imports jax; the episode buffers are built here.

Reading (`load_episodes`) checks every field against what it must be and raises one BadInput
naming the file, the field and what was expected, never a library traceback.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from testbed.errors import BadInput

ID = re.compile(r"^(?:[\w.-]+/)*[\w.]+(?:[\w.-]*[\w.])?-v\d+$")
DEFAULT_ROOT = Path("runs") / "datasets"


def datasets_root() -> Path:
    """`MINARI_DATASETS_PATH`, else `runs/datasets`."""
    return Path(os.environ.get("MINARI_DATASETS_PATH") or DEFAULT_ROOT)


@contextmanager
def minari_at(root: Path) -> Iterator[Any]:
    """Import minari with `MINARI_DATASETS_PATH` pointing at `root` (restored after)."""
    before = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(Path(root).resolve())
    try:
        import minari

        yield minari
    finally:
        if before is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = before


def check_id(dataset_id: str, where: str | None = None) -> str:
    if not ID.match(dataset_id):
        raise BadInput(
            f"dataset id {dataset_id!r} is not a Minari id",
            where=where,
            hint="write name-vN or namespace/name-vN, e.g. cartpole/expert-v0",
        )
    return dataset_id


def agent_dataset_id(dataset_id: str, agent: str, n_agents: int) -> str:
    """The id of `agent`'s dataset: the id itself for a single-agent env, else
    `[namespace/]name/<agent>-vN`."""
    if n_agents == 1:
        return dataset_id
    name, _, version = dataset_id.rpartition("-v")
    return f"{name}/{agent}-v{version}"


def dataset_folder(root: Path, dataset_id: str) -> Path:
    return Path(root) / dataset_id


@dataclass
class Episode:
    """One agent's episode: observations has one more entry than the steps."""

    seed: int
    observations: list[Any] = field(default_factory=list)
    actions: list[Any] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    terminations: list[bool] = field(default_factory=list)
    truncations: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.actions)


def _stack(space: Any, values: list[Any]) -> Any:
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        return {k: _stack(s, [v[k] for v in values]) for k, s in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(_stack(s, [v[i] for v in values]) for i, s in enumerate(space.spaces))
    return np.asarray(values, dtype=space.dtype)


def write_dataset(
    root: Path,
    dataset_id: str,
    episodes: list[Episode],
    observation_space: Any,
    action_space: Any,
    *,
    overwrite: bool,
    description: str,
    algorithm: str,
) -> Path:
    """Write one agent's episodes as a Minari dataset (hdf5); return its folder."""
    from minari.data_collector import EpisodeBuffer

    folder = dataset_folder(root, dataset_id)
    with minari_at(root) as minari:
        if folder.exists():
            if not overwrite:
                raise BadInput(
                    f"dataset {dataset_id!r} exists already ({folder})",
                    hint="set `overwrite: true`, or give a new id (bump its -vN)",
                )
            minari.delete_dataset(dataset_id)
        buffers = [
            EpisodeBuffer(
                id=k,
                seed=int(e.seed),
                observations=_stack(observation_space, e.observations),
                actions=_stack(action_space, e.actions),
                rewards=[float(r) for r in e.rewards],
                terminations=[bool(t) for t in e.terminations],
                truncations=[bool(t) for t in e.truncations],
                infos={"cost": np.asarray([0.0, *e.costs], np.float64)},
            )
            for k, e in enumerate(episodes)
        ]
        minari.create_dataset_from_buffers(
            dataset_id,
            buffers,
            observation_space=observation_space,
            action_space=action_space,
            algorithm_name=algorithm,
            description=description,
            data_format="hdf5",
        )
    return folder


def _bad(folder: Path, what: str, expected: str, hint: str | None = None) -> BadInput:
    return BadInput(f"{folder}: {what}: expected {expected}", hint=hint)


def _metadata(folder: Path) -> dict[str, Any]:
    """data/metadata.json, with the fields reading needs."""
    meta_path = folder / "data" / "metadata.json"
    if not meta_path.is_file():
        raise _bad(folder, "data/metadata.json is missing", "the metadata Minari writes")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _bad(folder, f"data/metadata.json does not parse ({exc})", "JSON") from None
    if not isinstance(meta, dict):
        raise _bad(folder, "data/metadata.json", "a JSON object")
    for key in ("observation_space", "action_space", "total_episodes"):
        if key not in meta:
            raise _bad(folder, f"data/metadata.json has no {key!r}", f"a {key!r} field")
    return meta


def _same_space(found: Any, wanted: Any) -> bool:
    return found == wanted or (
        getattr(found, "shape", 0) == getattr(wanted, "shape", 1)
        and type(found) is type(wanted)
        and str(found) == str(wanted)
    )


def load_episodes(
    root: Path,
    dataset_id: str,
    observation_space: Any = None,
    action_space: Any = None,
    *,
    where: str | None = None,
) -> list[Episode]:
    """Read and check a dataset (against the env's spaces, when given): its episodes."""
    folder = dataset_folder(root, dataset_id)
    if not folder.is_dir():
        raise BadInput(
            f"no dataset {dataset_id!r} under {Path(root).resolve()}",
            where=where,
            hint="collect it first (kind: collect), set MINARI_DATASETS_PATH, or list them "
            "with `testbed datasets`",
        )
    meta = _metadata(folder)
    data_file = folder / "data" / "main_data.hdf5"
    if not data_file.is_file():
        raise _bad(folder, "data/main_data.hdf5 is missing", "the episodes (hdf5)")
    with minari_at(root) as minari:
        try:
            dataset = minari.load_dataset(dataset_id)
            obs_space, act_space = dataset.observation_space, dataset.action_space
            raw = list(dataset.iterate_episodes())
            seeds = [m.get("seed") for m in dataset.storage.get_episode_metadata(range(len(raw)))]
        except Exception as exc:  # h5py / minari errors on a damaged file
            raise _bad(
                folder,
                f"data/main_data.hdf5 cannot be read ({type(exc).__name__}: {exc})",
                "an hdf5 file of Minari episodes",
                hint="collect the dataset again",
            ) from None
    if observation_space is not None and not _same_space(obs_space, observation_space):
        raise _bad(folder, f"observation_space is {obs_space}", f"the env's {observation_space}")
    if action_space is not None and not _same_space(act_space, action_space):
        raise _bad(folder, f"action_space is {act_space}", f"the env's {action_space}")
    if meta["total_episodes"] != len(raw):
        raise _bad(
            folder, f"data/metadata.json says {meta['total_episodes']} episodes",
            f"the {len(raw)} episodes data/main_data.hdf5 holds",
        )  # fmt: skip
    return [_checked(folder, k, e, s) for k, (e, s) in enumerate(zip(raw, seeds, strict=True))]


def _length(value: Any) -> int:
    if isinstance(value, dict):
        return min((_length(v) for v in value.values()), default=0)
    if isinstance(value, tuple):
        return min((_length(v) for v in value), default=0)
    return len(value)


def _rows(value: Any) -> list[Any]:
    n = _length(value)
    if isinstance(value, dict):
        parts = {k: _rows(v) for k, v in value.items()}
        return [{k: parts[k][i] for k in parts} for i in range(n)]
    if isinstance(value, tuple):
        parts_t = [_rows(v) for v in value]
        return [tuple(p[i] for p in parts_t) for i in range(n)]
    return list(value)


def _checked(folder: Path, k: int, raw: Any, seed: Any) -> Episode:
    n = len(raw.rewards)
    place = f"episode_{k}"
    for name, value, want in (
        ("observations", raw.observations, n + 1),
        ("actions", raw.actions, n),
        ("terminations", raw.terminations, n),
        ("truncations", raw.truncations, n),
    ):
        if _length(value) != want:
            raise _bad(folder, f"{place}/{name} has {_length(value)} entries", f"{want}")
    if seed is None:
        raise _bad(folder, f"{place} has no seed", "the episode's reset seed (Minari metadata)")
    costs = (raw.infos or {}).get("cost")
    if costs is None or len(costs) != n + 1:
        got = "none" if costs is None else f"{len(costs)} entries"
        raise _bad(folder, f"{place}/infos/cost has {got}", f"{n + 1} (reset + one per step)")
    return Episode(
        seed=int(seed),
        observations=_rows(raw.observations),
        actions=_rows(raw.actions),
        rewards=[float(r) for r in raw.rewards],
        costs=[float(c) for c in np.asarray(costs)[1:]],
        terminations=[bool(t) for t in raw.terminations],
        truncations=[bool(t) for t in raw.truncations],
    )


def list_datasets(root: Path) -> list[dict[str, Any]]:
    """Every dataset under `root`: id, episodes, steps, spaces, algorithm (bad ones with an
    `error`)."""
    found = []
    for meta_path in sorted(Path(root).glob("**/data/metadata.json")):
        folder = meta_path.parent.parent
        dataset_id = folder.relative_to(root).as_posix()
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            found.append(
                {
                    "id": dataset_id,
                    "episodes": int(meta.get("total_episodes", 0)),
                    "steps": int(meta.get("total_steps", 0)),
                    "algorithm": meta.get("algorithm_name"),
                    "description": meta.get("description"),
                }
            )
        except (OSError, ValueError, TypeError) as exc:
            found.append({"id": dataset_id, "error": f"metadata.json: {exc}"})
    return found
