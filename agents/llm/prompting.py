"""Prompts from an env's own documentation and a text rendering of the observation, and
answers parsed back into actions.

The documentation is the env's docstring: the registered env module's docstring (testbed's own
envs document agents, spaces, rewards there, PettingZoo style), or for `gym/<Task>` the
Gymnasium class's docstring, after the catalog's one-line description, cut to `doc_chars`.
Observations are rendered by a per-env text renderer when there is one (`RENDERERS`, or a
user's `module:function(observation, space) -> str`), else generically (Discrete: the index;
Box: the numbers; dicts key by key). The answer's first action name or in-range number (the
earliest in the text) is the action; none is a parse failure, and the caller's fallback acts.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

Renderer = Callable[[Any, spaces.Space], str]


def env_documentation(env_id: str, limit: int = 3000) -> str:
    """The catalog description and the docstring of env `env_id` ("" when unknown)."""
    if not env_id:
        return ""
    from testbed.registry import ENVS  # plain data; imports no env

    spec = ENVS.get(env_id)
    parts = [spec.description] if spec is not None else []
    doc = None
    if env_id.startswith("gym/"):
        import gymnasium

        try:
            entry = gymnasium.spec(env_id[4:]).entry_point
        except Exception:  # noqa: BLE001 - an unknown Gymnasium id just has no docstring
            entry = None
        if isinstance(entry, str) and ":" in entry:
            module, _, attr = entry.partition(":")
            doc = getattr(importlib.import_module(module), attr).__doc__
    elif spec is not None:
        module, _, attr = spec.entry.partition(":")
        loaded = importlib.import_module(module)
        doc = loaded.__doc__ or getattr(loaded, attr).__doc__
    if doc:
        parts.append(_dedent(doc))
    return "\n\n".join(parts)[:limit]


def _dedent(text: str) -> str:
    lines = text.strip("\n").splitlines()
    indents = [len(x) - len(x.lstrip()) for x in lines[1:] if x.strip()]
    cut = min(indents, default=0)
    return "\n".join([lines[0].strip(), *(x[cut:] for x in lines[1:])]).strip()


# ---------------------------------------------------------------------------------------------
# Observations as text


def four_rooms_text(observation: Any, space: spaces.Space) -> str:
    """Four rooms: the agent's row and column, the default goal's, and the map."""
    from testbed.envs.four_rooms import DEFAULT_GOAL, WALLS, position_of

    row, col = position_of(int(observation))
    goal = position_of(DEFAULT_GOAL)
    grid = [["#" if w else "." for w in line] for line in WALLS]
    grid[goal[0]][goal[1]] = "G"
    grid[row][col] = "A"
    picture = "\n".join("".join(line) for line in grid)
    return (
        f"You (A) are at row {row}, column {col}. The goal (G) is at row {goal[0]}, column "
        f"{goal[1]} (the default goal). Rows grow downwards, columns to the right; # is a "
        f"wall.\n{picture}"
    )


def frozen_lake_text(observation: Any, space: spaces.Space) -> str:
    """FrozenLake on its default map of the observation's size (4x4 or 8x8): the agent's row
    and column and the map; other sizes get the generic text."""
    from gymnasium.envs.toy_text.frozen_lake import MAPS

    size = {16: 4, 64: 8}.get(int(getattr(space, "n", 0)))
    if size is None:
        return generic_text(observation, space)
    board = MAPS[f"{size}x{size}"]
    row, col = divmod(int(observation), size)
    lines = [list(line) for line in board]
    lines[row][col] = "A"
    picture = "\n".join("".join(line) for line in lines)
    return (
        f"You (A) are at row {row}, column {col} of the {size}x{size} lake (its default map); "
        f"G is the goal at row {size - 1}, column {size - 1}; H are holes, F frozen ice, S the "
        f"start.\n{picture}"
    )


RENDERERS: dict[str, Renderer] = {
    "testbed/four_rooms_v0": four_rooms_text,
    "gym/FrozenLake-v1": frozen_lake_text,
}
ACTION_NAMES: dict[str, tuple[str, ...]] = {
    "testbed/four_rooms_v0": ("up", "down", "left", "right"),
    "gym/FrozenLake-v1": ("left", "down", "right", "up"),
}


def generic_text(observation: Any, space: spaces.Space) -> str:
    """Any observation: Discrete index, Box numbers (3 decimals), dicts key by key."""
    if isinstance(observation, dict):
        return "\n".join(
            f"{key}: {generic_text(value, space[key] if isinstance(space, spaces.Dict) else None)}"
            for key, value in observation.items()
            if key != "action_mask"
        )
    if isinstance(space, spaces.Discrete):
        first = int(space.start)
        return f"observation {int(observation)} (one of {first}..{first + int(space.n) - 1})"
    values = np.round(np.asarray(observation, np.float64).reshape(-1), 3)
    return "observation: [" + ", ".join(f"{v:g}" for v in values) + "]"


def renderer_for(env_id: str, reference: str = "") -> Renderer:
    """The user's renderer (`module:function`), else the env's, else the generic one."""
    if reference:
        from testbed.errors import BadInput
        from testbed.registry import load_reference  # code the scenario names

        try:
            return load_reference(reference)
        except BadInput as exc:  # reported where the agent is, by the registry
            raise ValueError(f"render: {exc.message}") from None
    return RENDERERS.get(env_id, generic_text)


def action_names(env_id: str, space: spaces.Space, given: Sequence[str] = ()) -> list[str]:
    """Names of a Discrete space's actions: given, the env's, else "0".."n-1"."""
    if not isinstance(space, spaces.Discrete):
        raise ValueError(f"a language-model agent needs a Discrete action space, got {space}")
    n = int(space.n)
    names = list(given) or list(ACTION_NAMES.get(env_id, ()))
    if names and len(names) != n:
        raise ValueError(f"action_names has {len(names)} names for {n} actions")
    return [n.lower() for n in names] or [str(i) for i in range(n)]


# ---------------------------------------------------------------------------------------------
# Messages and answers


def build_messages(
    documentation: str,
    observation_text: str,
    names: Sequence[str],
    legal: Sequence[int],
    instructions: str = "",
) -> list[dict[str, str]]:
    """A system message (role and the env's documentation) and a user message (the
    observation, the legal actions, the answer format)."""
    system = "You choose the actions of an agent in a reinforcement-learning environment."
    if documentation:
        system += f"\n\nThe environment's documentation:\n{documentation}"
    if instructions:
        system += f"\n\n{instructions}"
    menu = ", ".join(f"{i} = {names[i]}" if names[i] != str(i) else str(i) for i in legal)
    user = (
        f"{observation_text}\n\nLegal actions: {menu}.\n"
        "Reply with the single best action (its name or number) and nothing else."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def parse_action(text: str, names: Sequence[str], legal: Sequence[int]) -> int | None:
    """The one legal action `text` names; None when it names none or several different ones
    (an answer such as "not up but down" is not guessed at). When the actions have names,
    only names count, and a number only as the whole answer: numbers in a chatty answer are
    often the observation repeated ("from row 1, go up")."""
    lowered = text.lower().strip()
    named = any(names[i] != str(i) for i in legal)
    whole = re.fullmatch(r"\s*(\d+)\s*[.!]?\s*", lowered)
    if whole is not None:
        number = int(whole.group(1))
        return number if number in legal else None
    found = set()
    for index in legal:
        if named:
            pattern = rf"(?<![\w-]){re.escape(names[index])}(?![\w-])"
        else:
            pattern = rf"(?<![\w.-]){index}(?![\w.])"
        if re.search(pattern, lowered):
            found.add(index)
    return found.pop() if len(found) == 1 else None
