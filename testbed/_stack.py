"""The two dependency stacks testbed is tested on, and the names that differ between them.

``legacy`` is gymnasium < 1.0 (numpy 1.26, gymnasium 0.29, pettingzoo 1.24.3, supersuit 3.9.3,
Safety-Gymnasium; `constraints.txt`); ``modern`` is gymnasium >= 1.0 (numpy 2, gymnasium 1.x,
pettingzoo 1.27, supersuit 3.11, `mpe2`; `constraints-modern.txt`). See docs/STACK.md.

Every version-dependent env id, factory parameter or module path is decided here, from the
installed distributions' metadata (nothing heavy is imported), so the env catalog and the env
modules each ask one question. Foundation module: imports nothing of testbed.
"""

from __future__ import annotations

import functools
import importlib
from importlib import metadata
from types import ModuleType

LEGACY = "legacy"
MODERN = "modern"

# name -> (legacy id, modern id): gymnasium 1.0 bumped these toy-text envs.
_GYM_IDS = {
    "CliffWalking": ("CliffWalking-v0", "CliffWalking-v1"),
    "Taxi": ("Taxi-v3", "Taxi-v4"),
    # gymnasium-robotics 1.2.2 (legacy) has FetchReach v1/v2, 1.4.2 (modern) v1/v4.
    "FetchReach": ("FetchReach-v2", "FetchReach-v4"),
    # PointMaze is v3 in both (1.2.2 and 1.4.2); kept here so a later bump is one line.
    "PointMaze": ("PointMaze_UMaze-v3", "PointMaze_UMaze-v3"),
}
# PettingZoo 1.25 deprecated knights_archers_zombies_v10 for v11 (new parameters).
_KAZ = ("knights_archers_zombies_v10", "knights_archers_zombies_v11")


def _major_minor(distribution: str) -> tuple[int, int] | None:
    try:
        parts = metadata.version(distribution).split(".")
    except metadata.PackageNotFoundError:
        return None
    return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)


@functools.cache
def stack() -> str:
    """``"modern"`` when gymnasium >= 1.0 is installed, else ``"legacy"``."""
    version = _major_minor("gymnasium")
    return MODERN if version is not None and version >= (1, 0) else LEGACY


def _pick(pair: tuple[str, str]) -> str:
    return pair[1] if stack() == MODERN else pair[0]


def gym_id(name: str) -> str:
    """This stack's gymnasium id for an env whose version differs ("CliffWalking",
    "FetchReach")."""
    return _pick(_GYM_IDS[name])


def kaz_name() -> str:
    """This stack's Knights-Archers-Zombies module name (v10 legacy, v11 modern)."""
    return _pick(_KAZ)


@functools.cache
def mpe_package() -> str:
    """Where MPE lives: ``pettingzoo.mpe`` up to pettingzoo 1.24, the ``mpe2`` package after."""
    pettingzoo = _major_minor("pettingzoo")
    if pettingzoo is not None and pettingzoo < (1, 25):
        return "pettingzoo.mpe"
    return "mpe2"


def mpe_module(name: str) -> ModuleType:
    """The MPE env module `name` (e.g. "simple_spread_v3") of this stack."""
    package = mpe_package()
    try:
        return importlib.import_module(f"{package}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in (package, package.partition(".")[0]):
            raise
        raise ModuleNotFoundError(
            f"MPE env {name!r} needs the {package!r} package ({_hint(package)})", name=exc.name
        ) from exc


def _hint(package: str) -> str:
    if package == "mpe2":
        return "pettingzoo >= 1.25 has no MPE: `pip install mpe2`"
    return "`pip install 'pettingzoo[mpe]<1.25'`"
