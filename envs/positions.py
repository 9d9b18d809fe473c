"""Where each agent of an env is: positions, sizes and velocities for collision and speed costs.

`bodies(env)` reads them from the env's current state (`env.unwrapped`), or returns None when
the env exposes no positions. An env exposes them in one of two ways:

1. **Its own methods** (any env, e.g. yours): `agent_positions() -> {agent: array}` (any
   dimension, the env's own units), and optionally `agent_radii() -> {agent: float}` (default
   0.0: only overlapping centres collide, or pass a `margin`) and `agent_velocities() ->
   {agent: array}` (default: the change of position over the last step, per step).
2. **A reader here** for envs we do not own, keyed by the unwrapped env's class:

| env | position (units) | radius | velocity |
|---|---|---|---|
| MPE (`env.unwrapped.world`) | `p_pos` (world units) | `size`; only `collide` bodies | `p_vel` |
| sisl/pursuit | grid cell (x, y) | 0.5 (same cell = collision) | cells moved per step |
| sisl/waterworld | pymunk body position (pixels; pool side 750) | pursuer radius | body velocity |
| sisl/multiwalker | hull position (Box2D metres) | 0.0 | hull linear velocity |
| butterfly/pistonball | piston body position (pixels) | 0.0 | body velocity |
| butterfly/knights_archers_zombies | sprite centre (pixels) | half the sprite width | per step |
| testbed/foraging | grid cell (row, col) | 0.5 | cells moved per step |

MPE worlds also give their collidable landmarks (`obstacles`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Bodies:
    """The agents' positions now, their radii, velocities (None: from positions) and fixed
    obstacles as (position, radius)."""

    positions: dict[str, np.ndarray]
    radii: dict[str, float] = field(default_factory=dict)
    velocities: dict[str, np.ndarray] | None = None
    obstacles: list[tuple[np.ndarray, float]] = field(default_factory=list)
    colliders: set[str] | None = None
    """Agents that take part in collisions (None: all)."""


def _vec(value: Any) -> np.ndarray:
    return np.asarray(tuple(value), dtype=np.float64)


def _own(u: Any) -> Bodies:
    radii = u.agent_radii() if hasattr(u, "agent_radii") else {}
    velocities = u.agent_velocities() if hasattr(u, "agent_velocities") else None
    positions = {a: np.asarray(p, np.float64) for a, p in u.agent_positions().items()}
    return Bodies(positions, dict(radii), velocities)


def _mpe(u: Any) -> Bodies:
    world = u.world
    agents = {body.name: body for body in world.agents}
    return Bodies(
        {name: np.asarray(b.state.p_pos, np.float64) for name, b in agents.items()},
        {name: float(b.size) for name, b in agents.items()},
        {name: np.asarray(b.state.p_vel, np.float64) for name, b in agents.items()},
        [(np.asarray(m.state.p_pos), float(m.size)) for m in world.landmarks if m.collide],
        {name for name, b in agents.items() if b.collide},
    )


def _pursuit(u: Any) -> Bodies:
    layer = u.env.pursuer_layer
    positions = {f"pursuer_{i}": _vec(layer.get_position(i)) for i in range(layer.n_agents())}
    return Bodies(positions, dict.fromkeys(positions, 0.5))


def _waterworld(u: Any) -> Bodies:
    pursuers = {f"pursuer_{i}": p for i, p in enumerate(u.env.pursuers)}
    return Bodies(
        {a: _vec(p.body.position) for a, p in pursuers.items()},
        {a: float(p.radius) for a, p in pursuers.items()},
        {a: _vec(p.body.velocity) for a, p in pursuers.items()},
    )


def _multiwalker(u: Any) -> Bodies:
    walkers = {f"walker_{i}": w for i, w in enumerate(u.env.walkers)}
    return Bodies(
        {a: _vec(w.hull.position) for a, w in walkers.items()},
        velocities={a: _vec(w.hull.linearVelocity) for a, w in walkers.items()},
    )


def _pistonball(u: Any) -> Bodies:
    pistons = {f"piston_{i}": p for i, p in enumerate(u.pistonList)}
    return Bodies(
        {a: _vec(p.position) for a, p in pistons.items()},
        velocities={a: _vec(p.velocity) for a, p in pistons.items()},
    )


def _kaz(u: Any) -> Bodies:
    if hasattr(u, "agent_map"):  # v11 (PettingZoo 1.25+): {name: Player}
        sprites = dict(u.agent_map)
    else:  # v10: a list of the live players
        sprites = {a.agent_name: a for a in u.agent_list}
    return Bodies(
        {name: _vec(s.rect.center) for name, s in sprites.items()},
        {name: s.rect.width / 2 for name, s in sprites.items()},
    )


def _foraging(u: Any) -> Bodies:
    positions = {
        a: np.asarray(u._agent_pos[i], np.float64) for i, a in enumerate(u.possible_agents)
    }
    return Bodies(positions, dict.fromkeys(positions, 0.5))


# (module of the unwrapped env's class, class name) -> reader
READERS: dict[tuple[str, str], Callable[[Any], Bodies]] = {
    ("pettingzoo.sisl.pursuit.pursuit", "raw_env"): _pursuit,
    ("pettingzoo.sisl.waterworld.waterworld", "raw_env"): _waterworld,
    ("pettingzoo.sisl.multiwalker.multiwalker", "raw_env"): _multiwalker,
    ("pettingzoo.butterfly.pistonball.pistonball", "raw_env"): _pistonball,
    ("pettingzoo.butterfly.knights_archers_zombies.knights_archers_zombies", "raw_env"): _kaz,
    ("testbed.envs.foraging", "ForagingEnv"): _foraging,
}


def reader(env: Any) -> Callable[[Any], Bodies] | None:
    """How to read `env`'s bodies (a function of `env.unwrapped`), or None."""
    u = env.unwrapped
    if hasattr(u, "agent_positions"):
        return _own
    world = getattr(u, "world", None)
    if world is not None and hasattr(world, "agents"):
        return _mpe
    return READERS.get((type(u).__module__, type(u).__name__))


def bodies(env: Any) -> Bodies | None:
    """The agents' bodies in `env`'s current state, or None when it exposes no positions."""
    read = reader(env)
    return None if read is None else read(env.unwrapped)
