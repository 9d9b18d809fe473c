"""Named costs for any PettingZoo env (parallel or AEC), defined on what the env reports.

`add_costs(env, {name: config})` wraps a ParallelEnv or an AECEnv so that each agent's
``infos[a]["costs"]`` also holds the named costs and ``infos[a]["cost"]`` is the env's own
cost (0.0 if it had none) plus their sum. A scenario writes them as::

    env:
      id: mpe/simple_spread_v3      # or sisl/pursuit_v4, classic/leduc_holdem_v4, ...
      costs:
        collision: {type: collision, weight: 1.0}
        speed: {type: speed_limit, limit: 0.5}

Cost types (each value is multiplied by ``weight``, default 1.0, and stored weighted):

- ``collision`` (envs with positions): 1 if the agent overlaps another agent, i.e. centre
  distance < sum of radii + ``margin``; with ``landmarks: true`` an MPE world's collidable
  landmarks count too.
- ``speed_limit``: 1 if the agent's speed is above ``limit`` (``mode: excess``: speed - limit
  when positive). Velocity from the env's state (envs with positions), or from the
  observation at ``observation_indices`` (any env with flat observations).
- ``out_of_bounds`` (envs with positions): 1 if the agent leaves the box |x_i| <= ``bound``.
- ``info_key`` (any env): ``float(info[key])``, or 1 if that is above ``threshold`` when one is
  given; ``default`` is used when the key is missing (else a missing key is an error).

How positions are read: `testbed.envs.positions` (MPE worlds, SISL pursuit, waterworld and
multiwalker, pistonball, knights-archers-zombies, foraging, and any env with its own
``agent_positions()``; units and radii are each env's own, listed there). Costs are computed
after each step from the new state, the same state the returned observations show (for MPE,
``observation[0:2]`` is the agent's own velocity, so ``speed_limit`` with
``observation_indices: [0, 1]`` gives the same numbers). Where an env gives no velocity, it
is the change of position over the last step. At reset every named cost is 0.0.

Turn-based (AEC) envs: after the reset and after every step the named costs are computed for
every agent from the state then, and each agent's info holds them; an agent's cost for a turn
is what its info holds when it next acts (``last()``), as with an env's own costs.

Each config is a frozen dataclass validated by pydantic; an unknown type, unknown field or bad
value raises `testbed.errors.BadInput` naming the cost and the field. Costs that read
positions are checked against the env when added.

Version history: v0.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.wrappers import BaseParallelWrapper, BaseWrapper
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from testbed.envs.positions import Bodies, reader
from testbed.errors import BadInput

_STRICT = ConfigDict(extra="forbid")
Weight = Annotated[float, Field(ge=0)]


@dataclass(frozen=True, kw_only=True)
class CollisionCost:
    """1 when the agent's disc overlaps another agent's (MPE world)."""

    __pydantic_config__ = _STRICT
    type: Literal["collision"]
    weight: Weight = 1.0
    """Multiplies the cost."""
    margin: float = 0.0
    """Added to the sum of sizes: > 0 also counts near misses."""
    landmarks: bool = False
    """Also count overlaps with landmarks whose `collide` is true (e.g. simple_tag obstacles)."""


@dataclass(frozen=True, kw_only=True)
class SpeedLimitCost:
    """1 when the agent's speed (norm of its velocity) exceeds `limit`."""

    __pydantic_config__ = _STRICT
    type: Literal["speed_limit"]
    limit: Annotated[float, Field(ge=0)]
    """Largest speed without cost."""
    weight: Weight = 1.0
    """Multiplies the cost."""
    mode: Literal["indicator", "excess"] = "indicator"
    """indicator: 1 above the limit; excess: by how much the speed exceeds it."""
    observation_indices: tuple[Annotated[int, Field(ge=0)], ...] | None = None
    """Where the velocity sits in the agent's (flat) observation; None reads the MPE world."""


@dataclass(frozen=True, kw_only=True)
class OutOfBoundsCost:
    """1 when the agent's position leaves the square |x|, |y| <= `bound` (MPE world)."""

    __pydantic_config__ = _STRICT
    type: Literal["out_of_bounds"]
    bound: Annotated[float, Field(gt=0)]
    """Half the side of the allowed square, centred on the origin."""
    weight: Weight = 1.0
    """Multiplies the cost."""


@dataclass(frozen=True, kw_only=True)
class InfoKeyCost:
    """`float(info[key])`, or 1 when it exceeds `threshold` if one is given."""

    __pydantic_config__ = _STRICT
    type: Literal["info_key"]
    key: Annotated[str, Field(min_length=1)]
    """The key in each agent's info dict."""
    weight: Weight = 1.0
    """Multiplies the cost."""
    threshold: float | None = None
    """If set, the cost is 1 when the value is above it, else 0."""
    default: float | None = None
    """Value when the key is missing; None makes a missing key an error."""


CostConfig = CollisionCost | SpeedLimitCost | OutOfBoundsCost | InfoKeyCost
COST_TYPES: dict[str, type] = {
    "collision": CollisionCost,
    "speed_limit": SpeedLimitCost,
    "out_of_bounds": OutOfBoundsCost,
    "info_key": InfoKeyCost,
}
_WORLD_TYPES = (CollisionCost, OutOfBoundsCost)


def parse_cost(name: str, raw: Any, *, where: str | None = None) -> CostConfig:
    """Validate one named cost's mapping into its config dataclass, or raise BadInput."""
    here = f"{where}.{name}" if where else None
    if isinstance(raw, CostConfig):
        return raw
    if not isinstance(raw, Mapping):
        raise BadInput(f"cost {name!r} must be a mapping with a 'type', got {raw!r}", where=here)
    kind = raw.get("type")
    if kind not in COST_TYPES:
        close = difflib.get_close_matches(str(kind), list(COST_TYPES), n=1)
        raise BadInput(
            f"cost {name!r} field 'type': {kind!r} is not one of {', '.join(COST_TYPES)}",
            where=f"{here}.type" if here else None,
            hint=f"did you mean {close[0]!r}?" if close else None,
        )
    try:
        return TypeAdapter(COST_TYPES[kind]).validate_python(dict(raw))
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "(config)"
        accepted = [f for f in COST_TYPES[kind].__dataclass_fields__ if f != "type"]
        hint, got = None, f" (got {error.get('input')!r})"
        if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            close = difflib.get_close_matches(field, accepted, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            hint += f"a {kind} cost accepts: {', '.join(accepted)}"
            got = ""
        elif error["type"] == "missing":
            got = ""
        raise BadInput(
            f"cost {name!r} field {field!r}: {error['msg']}{got}",
            where=f"{here}.{field}" if here else None,
            hint=hint,
        ) from None


class _CostReader:
    """Computes the named costs of one agent from the env's state (shared by both APIs)."""

    def __init__(self, env: Any, costs: Mapping[str, CostConfig]) -> None:
        self.env = env
        self.costs = dict(costs)
        self._read = reader(env)
        self._before: dict[str, np.ndarray] = {}  # positions at the previous step
        self._bodies: Bodies | None = None

    def refresh(self, reset: bool) -> None:
        """Read the bodies after a reset or a step (velocities from positions need both)."""
        if self._read is None:
            return
        if self._bodies is not None and not reset:
            self._before = self._bodies.positions
        self._bodies = self._read(self.env.unwrapped)
        if reset:
            self._before = self._bodies.positions

    def _velocity(self, agent: str) -> np.ndarray:
        bodies = self._body_map(agent)
        if bodies.velocities is not None:
            return np.asarray(bodies.velocities[agent], np.float64)
        return bodies.positions[agent] - self._before.get(agent, bodies.positions[agent])

    def _body_map(self, agent: str) -> Bodies:
        if self._bodies is None or agent not in self._bodies.positions:
            raise BadInput(f"agent {agent!r} has no position in the env's state")
        return self._bodies

    def value(self, config: CostConfig, agent: str, observation: Any, info: dict) -> float:
        if isinstance(config, InfoKeyCost):
            if config.key not in info:
                if config.default is not None:
                    return config.default
                raise BadInput(
                    f"info_key cost: agent {agent!r} has no info key {config.key!r}; "
                    f"it has {sorted(info)}",
                    hint="set `default` for steps where the key is absent",
                )
            value = float(info[config.key])
            return value if config.threshold is None else float(value > config.threshold)
        if isinstance(config, SpeedLimitCost):
            if config.observation_indices is None:
                velocity = self._velocity(agent)
            else:
                velocity = np.asarray(observation).ravel()[list(config.observation_indices)]
            excess = float(np.linalg.norm(velocity)) - config.limit
            return float(excess > 0) if config.mode == "indicator" else max(excess, 0.0)
        bodies = self._body_map(agent)
        here = bodies.positions[agent]
        if isinstance(config, OutOfBoundsCost):
            return float(np.max(np.abs(here)) > config.bound)
        size = bodies.radii.get(agent, 0.0)
        colliders = bodies.colliders if bodies.colliders is not None else bodies.positions
        others = [(bodies.positions[a], bodies.radii.get(a, 0.0)) for a in colliders if a != agent]
        if config.landmarks:
            others += bodies.obstacles
        for position, radius in others:
            if np.linalg.norm(here - position) < size + radius + config.margin:
                return 1.0
        return 0.0

    def add(self, agent: str, observation: Any, info: dict, zero: bool) -> dict:
        """`info` with the named costs in `costs` and added to `cost` (a new dict)."""
        parts = dict(info.get("costs", {}))
        clash = set(parts) & set(self.costs)
        if clash:
            raise BadInput(f"cost names {sorted(clash)} are already costs of this env")
        total = float(info.get("cost", 0.0))
        for name, config in self.costs.items():
            value = 0.0 if zero else config.weight * self.value(config, agent, observation, info)
            parts[name] = value
            total += value
        return {**info, "costs": parts, "cost": total}


class ConstrainedParallelEnv(BaseParallelWrapper):
    """Adds named costs (`costs`: name -> config) to a ParallelEnv's infos."""

    def __init__(self, env: ParallelEnv, costs: Mapping[str, CostConfig]) -> None:
        super().__init__(env)
        self.costs = dict(costs)
        self._reader = _CostReader(env, costs)

    def _add(self, observations: dict, infos: dict, zero: bool) -> dict:
        return {
            agent: self._reader.add(agent, observations.get(agent), info, zero)
            for agent, info in infos.items()
        }

    def reset(self, seed: int | None = None, options: dict | None = None):
        observations, infos = self.env.reset(seed=seed, options=options)
        self._reader.refresh(reset=True)
        return observations, self._add(observations, infos, zero=True)

    def step(self, actions: dict[str, Any]):
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        self._reader.refresh(reset=False)
        infos = self._add(observations, infos, zero=False)
        return observations, rewards, terminations, truncations, infos


class ConstrainedAECEnv(BaseWrapper):
    """Adds named costs to an AECEnv's infos: after the reset (0.0) and after every step, for
    every agent, from the state then. An agent's cost for a turn is what its info holds when
    it next acts (`last()`), as for the env's own costs (testbed.rollout.episode.run_aec)."""

    def __init__(self, env: AECEnv, costs: Mapping[str, CostConfig]) -> None:
        super().__init__(env)
        self.costs = dict(costs)
        self._reader = _CostReader(env, costs)
        self._own: dict[str, tuple[dict, dict]] = {}  # agent -> (info we wrote, env's own)

    def _add_all(self, zero: bool) -> None:
        infos = self.env.unwrapped.infos
        for agent in list(infos):
            info = infos[agent]
            written, own = self._own.get(agent, (None, None))
            if info is written:  # not refreshed by the env since we wrote it
                info = own
            observation = None
            if any(isinstance(c, SpeedLimitCost) and c.observation_indices for c in
                   self.costs.values()):  # fmt: skip
                observation = self.env.observe(agent)
                if isinstance(observation, dict):
                    observation = observation.get("observation")
            new = self._reader.add(agent, observation, info, zero)
            infos[agent] = new
            self._own[agent] = (new, info)

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self.env.reset(seed=seed, options=options)
        self._own = {}
        self._reader.refresh(reset=True)
        self._add_all(zero=True)

    def step(self, action: Any) -> None:
        self.env.step(action)
        self._reader.refresh(reset=False)
        self._add_all(zero=False)


def add_costs(
    env: ParallelEnv | AECEnv, costs: Mapping[str, Any], *, where: str | None = None
) -> ConstrainedParallelEnv | ConstrainedAECEnv:
    """Wrap `env` (parallel or AEC) so that its infos carry the named `costs` (name ->
    mapping with a `type`). `where` (e.g. ``"scenario.yaml:4: env.costs"``) prefixes error
    locations.
    """
    if not isinstance(env, ParallelEnv | AECEnv):
        raise BadInput(
            f"env costs need a PettingZoo ParallelEnv or AECEnv, got {type(env).__name__}",
            where=where,
        )
    if not isinstance(costs, Mapping) or not costs:
        raise BadInput(
            f"costs must be a non-empty mapping of name -> config, got {costs!r}", where=where
        )
    parsed = {}
    for name, raw in costs.items():
        if not isinstance(name, str) or not name:
            raise BadInput(f"cost names must be non-empty strings, got {name!r}", where=where)
        parsed[name] = parse_cost(name, raw, where=where)
        config = parsed[name]
        reads_world = isinstance(config, _WORLD_TYPES) or (
            isinstance(config, SpeedLimitCost) and config.observation_indices is None
        )
        if reads_world and reader(env) is None:
            raise BadInput(
                f"cost {name!r} ({config.type}) reads the agents' positions, which "
                f"{type(env.unwrapped).__name__} does not expose",
                where=f"{where}.{name}" if where else None,
                hint="an env exposes them with agent_positions() (testbed/envs/positions.py); "
                "speed_limit can read the observation (observation_indices); info_key works "
                "on any env",
            )
    if isinstance(env, AECEnv):
        return ConstrainedAECEnv(env, parsed)
    return ConstrainedParallelEnv(env, parsed)
