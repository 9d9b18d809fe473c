"""What a registry entry says about an env or an agent, without importing it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ENV_KINDS = ("cooperative", "competitive", "mixed", "constrained", "single-agent")


@dataclass(frozen=True)
class EnvSpec:
    """What `testbed list envs` shows without importing the env; a test checks it is true."""

    entry: str
    kind: str
    api: str  # "parallel" or "aec"
    agents: str  # e.g. "3", "2", "N (default 3)"
    actions: str  # e.g. "discrete", "continuous", "discrete | continuous (continuous_actions)"
    description: str
    costs: tuple[str, ...] = ()
    extra: str | None = None  # pip extra that installs the env's optional dependency
    fixed: dict[str, Any] = field(default_factory=dict)
    """Parameters the entry binds (one task of a family's factory); not settable by users."""
    vector: str | None = None
    """`module:attr` of a native batched implementation `(num_envs, **params, max_steps)`
    -> VecEnv (testbed/rollout/vector.py), used for vectorized training."""
    agents_leave: bool = False
    """Agents may leave before the episode ends (vectorized training then needs num_envs 1)."""


@dataclass(frozen=True)
class AgentSpec:
    """An agent class and where it fits."""

    entry: str
    topic: str
    description: str
    envs: tuple[str, ...] = ()  # env ids it is written for; empty = any env
    try_env: str | None = None
    """An env it runs on out of the box; default: its first `envs`."""
    try_params: dict[str, Any] = field(default_factory=dict)
    """Parameters for a short run on `try_env` (small, so a few hundred steps reach updates)."""
