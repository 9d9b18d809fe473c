"""Checkpoints: a folder with `config.json` (which agent, its params, its spaces, where it
was in training) and `weights.pt` (its `state_dict`, loaded with `weights_only=True`; never a
pickle of code). A checkpoint folder can fill any seat whose spaces match.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from testbed.errors import BadInput
from testbed.registry.resolve import make_agent

FORMAT = "testbed-checkpoint/1"


def save_checkpoint(
    directory: str | Path,
    learner: Any,
    *,
    agent_id: str,
    params: dict[str, Any],
    observation_space: Any,
    action_space: Any,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write the learner's weights and how to rebuild it; files appear atomically."""
    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "format": FORMAT,
        "agent": agent_id,
        "params": params,
        "observation_space": str(observation_space),
        "action_space": str(action_space),
        **(meta or {}),
    }
    weights_tmp = directory / "weights.pt.tmp"
    torch.save(learner.state_dict(), weights_tmp)
    os.replace(weights_tmp, directory / "weights.pt")
    config_tmp = directory / "config.json.tmp"
    config_tmp.write_text(json.dumps(config, indent=2, default=str) + "\n")
    os.replace(config_tmp, directory / "config.json")
    return directory


def read_config(directory: str | Path, *, where: str | None = None) -> dict[str, Any]:
    """The checkpoint's config.json, or one clear error naming what is missing."""
    directory = Path(directory)
    config_path = directory / "config.json"
    if not directory.is_dir():
        raise BadInput(f"checkpoint folder {str(directory)!r} not found", where=where)
    for needed in (config_path, directory / "weights.pt"):
        if not needed.is_file():
            raise BadInput(
                f"checkpoint {str(directory)!r} has no {needed.name}",
                where=where,
                hint="a checkpoint folder holds config.json and weights.pt (see `kind: train`)",
            )
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise BadInput(f"{config_path}: not valid JSON: {exc}", where=where) from exc
    if config.get("format") != FORMAT:
        raise BadInput(
            f"{config_path}: format {config.get('format')!r} is not {FORMAT!r}", where=where
        )
    return config


def load_checkpoint(
    directory: str | Path,
    observation_space: Any,
    action_space: Any,
    *,
    where: str | None = None,
    base_dir: Path | None = None,
) -> Any:
    """Rebuild the agent a checkpoint was saved from, with its weights, for these spaces."""
    directory = Path(directory)
    if base_dir is not None and not directory.is_absolute():
        directory = base_dir / directory
    config = read_config(directory, where=where)
    for label, space in (("observation", observation_space), ("action", action_space)):
        saved = config.get(f"{label}_space")
        if saved is not None and saved != str(space):
            raise BadInput(
                f"checkpoint {str(directory)!r} was trained with {label} space {saved}, "
                f"but this seat has {space}",
                where=where,
            )
    agent = make_agent(
        config["agent"],
        observation_space,
        action_space,
        where=where,
        base_dir=base_dir,
        **config.get("params", {}),
    )
    load_weights(directory, agent, label=f"agent {config['agent']!r}", where=where)
    return agent


def load_weights(directory: Path, agent: Any, *, label: str, where: str | None = None) -> None:
    """Load `directory/weights.pt` (tensors only) into `agent`, or one clear error."""
    import torch

    try:
        agent.load_state_dict(torch.load(directory / "weights.pt", weights_only=True))
    except Exception as exc:  # corrupt file, wrong keys or shapes
        raise BadInput(
            f"checkpoint {str(directory)!r}: weights do not load into {label}: "
            f"{type(exc).__name__}: {exc}",
            where=where,
        ) from exc
