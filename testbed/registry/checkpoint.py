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
from testbed.registry.resolve import agent_class, build_agent, is_reference, registered_only

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
    if isinstance(observation_space, dict) and isinstance(action_space, dict):  # a joint learner
        config["observation_spaces"] = {a: str(s) for a, s in observation_space.items()}
        config["action_spaces"] = {a: str(s) for a, s in action_space.items()}
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


def checkpoint_agent(
    directory: Path, config: dict[str, Any], named: str | None, *, where: str | None = None
) -> str:
    """Which agent to rebuild a checkpoint as. A checkpoint is data: its config.json may name
    a registered agent; an agent that is code (`file.py:Name`, `module:attr`) is imported only
    when the scenario names it again itself (`{id: <that code>, checkpoint: ...}`)."""
    saved = str(config.get("agent"))
    if not is_reference(saved):
        if named is not None and named != saved:
            raise BadInput(
                f"checkpoint {str(directory)!r} holds agent {saved!r}, not {named!r}",
                where=where,
            )
        return saved
    if named is None:
        raise BadInput(
            f"checkpoint {str(directory)!r} was saved from {saved!r}, which is code; a "
            "checkpoint loads code only when you name it yourself",
            where=where,
            hint=f"write {{id: {saved!r}, checkpoint: {str(directory)!r}}} (if you trust it)",
        )
    if not _same_code(named, saved):
        raise BadInput(
            f"checkpoint {str(directory)!r} was saved from {saved!r}, but the scenario names "
            f"{named!r}",
            where=where,
        )
    return named


def _same_code(named: str, saved: str) -> bool:
    """The same attribute of a file or module of the same name (paths may differ)."""
    (a, _, x), (b, _, y) = named.rpartition(":"), saved.rpartition(":")
    return x == y and Path(a).name == Path(b).name


def load_checkpoint(
    directory: str | Path,
    observation_space: Any,
    action_space: Any,
    *,
    agent: str | None = None,
    where: str | None = None,
    base_dir: Path | None = None,
) -> Any:
    """Rebuild the agent a checkpoint was saved from, with its weights, for these spaces.
    `agent` is the id the scenario gives next to the checkpoint, if any (see
    `checkpoint_agent`); the checkpoint's own params never import code."""
    directory = Path(directory)
    if base_dir is not None and not directory.is_absolute():
        directory = base_dir / directory
    config = read_config(directory, where=where)
    for label, space in (("observation", observation_space), ("action", action_space)):
        saved = config.get(f"{label}_space")
        per_agent = config.get(f"{label}_spaces")
        if isinstance(space, dict) and isinstance(per_agent, dict):
            # a joint learner acts for some of its agents, or, with slots for more agents
            # (params `max_agents`, e.g. MAPPO's), for up to that many with the same spaces
            slots = int(config.get("params", {}).get("max_agents") or 0)
            known, seat = set(per_agent.values()), {a: str(s) for a, s in space.items()}
            # agents are told apart by their position in the group, so the seat must list the
            # saved agents first, in their order (agent_0, agent_1, ... of a smaller task)
            shared = min(len(seat), len(per_agent))
            in_order = list(seat)[:shared] == list(per_agent)[:shared]
            if (
                in_order
                and all(per_agent.get(a, s) == s for a, s in seat.items())
                and (
                    set(seat) <= set(per_agent)
                    or (len(seat) <= slots and set(seat.values()) <= known)
                )
            ):
                continue
            if not in_order:
                raise BadInput(
                    f"checkpoint {str(directory)!r} holds a group for {list(per_agent)}; it "
                    f"can act for the first of them in that order, not for {list(seat)}",
                    where=where,
                )
        if saved is not None and saved != str(space):
            raise BadInput(
                f"checkpoint {str(directory)!r} was trained with {label} space {saved}, "
                f"but this seat has {space}",
                where=where,
            )
    agent_id = checkpoint_agent(directory, config, agent, where=where)
    cls = agent_class(agent_id, where=where, base_dir=base_dir)
    with registered_only("a checkpoint's params name only registered agents"):
        built = build_agent(
            cls, observation_space, action_space, config.get("params", {}), name=agent_id,
            where=where,
        )  # fmt: skip
    load_weights(directory, built, label=f"agent {agent_id!r}", where=where)
    return built


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
