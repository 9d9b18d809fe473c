"""What every stage kind's schema shares: env and agent references, and the stage base.

Each kind's own schema (`kind: evaluate`, `audit`, ...) subclasses `StageModel` (one team:
`TeamStage`) in its own package; `testbed.stages` lists them. Unknown keys are errors
(pydantic, `extra="forbid"`); `testbed.scenario.document` turns validation errors into
`file:line: field` messages.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from annotated_types import Ge, Gt
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, model_validator

Loc = tuple[str, ...]

# Numbers in scenarios: a boolean is neither a count nor a number (YAML `true` is not 1), and a
# count is a whole number (20.0 and "20" are refused, not converted).
Count = Annotated[int, Strict(), Gt(0)]
NonNegativeCount = Annotated[int, Strict(), Ge(0)]
Number = Annotated[float, Strict()]
PositiveNumber = Annotated[float, Strict(), Gt(0)]

COMPARISON = re.compile(r"^\s*(<=|>=|<|>)\s*(-?\d+(\.\d*)?([eE][-+]?\d+)?)\s*$")


def parse_comparison(text: object) -> tuple[str, float]:
    """("<=", 2.0) from "<= 2"; ValueError saying what is expected otherwise."""
    match = COMPARISON.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"expected a comparison such as '>= -30' or '<= 2', got {text!r}")
    return match.group(1), float(match.group(2))


def _comparison(text: object) -> str:
    parse_comparison(text)
    assert isinstance(text, str)
    return text


Comparison = Annotated[str, BeforeValidator(_comparison)]
"""An expectation such as ">= -30" (checked by the pytest plugin, `testbed.testing`)."""


class Strict(BaseModel):
    """A frozen pydantic model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ExecutorSpec(Strict):
    """Where a scenario's episodes, games and sweep runs execute; the command line's
    `--executor` and `--address` override it. `executor: ray` is short for `{type: ray}`."""

    type: Literal["local", "ray"] = "local"
    """`local`: this machine's processes (`--workers`); `ray`: tasks on a Ray cluster."""
    address: str | None = None
    """The Ray cluster (`ray start --head` prints it); none: `RAY_ADDRESS`, else a local
    cluster started for the run and stopped after it."""
    retries: NonNegativeCount = 3
    """Ray's retries of a task whose worker process or node was lost (then the task is run
    in a local worker process, which names the culprit)."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"type": data} if isinstance(data, str) else data


class EnvRef(Strict):
    """Which environment, with its parameters and any costs added by the constraint wrapper."""

    id: str
    params: dict[str, Any] = Field(default_factory=dict)
    costs: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_id(cls, value: Any) -> Any:
        return {"id": value} if isinstance(value, str) else value


class AgentRef(Strict):
    """Which agent fills a seat: a registry id (or `module:attr` / `file.py:Name`) with params,
    or a trained `checkpoint` folder (a path, or `@<train stage>/<agent>` for one trained
    earlier in the same run). With a checkpoint, `id` may name its agent too, and must when
    that agent is code: a checkpoint is data and imports no code by itself."""

    id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    checkpoint: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_id(cls, value: Any) -> Any:
        return {"id": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> AgentRef:
        if self.id is None and self.checkpoint is None:
            raise ValueError("give `id` (a registered agent) or `checkpoint` (a trained one)")
        if self.checkpoint is not None and self.params:
            raise ValueError("a checkpoint brings its own params; remove `params`")
        return self

    @property
    def label(self) -> str:
        return f"checkpoint {self.checkpoint}" if self.checkpoint is not None else str(self.id)


class EntrantRef(AgentRef):
    """A tournament entrant: one agent for every seat of its side, or a team (`agents`:
    agent-name pattern -> agent) for team games, e.g. predators and prey of MPE tag."""

    agents: dict[str, AgentRef] | None = None

    @model_validator(mode="before")
    @classmethod
    def _team_needs_no_id(cls, value: Any) -> Any:
        if isinstance(value, dict) and "agents" in value and "id" not in value:
            return {**value, "id": "team"}
        return value

    @model_validator(mode="after")
    def _team_alone(self) -> EntrantRef:
        if self.agents is not None and (self.id != "team" or self.params or self.checkpoint):
            raise ValueError("a team entrant (`agents:`) has no `id`, `params` or `checkpoint`")
        return self

    def refs(self, loc: Loc) -> list[tuple[Loc, AgentRef]]:
        """The agent references inside this entrant, with their locations."""
        if self.agents is None:
            return [(loc, self)]
        return [((*loc, "agents", p), r) for p, r in self.agents.items()]


class StageModel(Strict):
    """Fields every stage kind shares: its kind, name, env and seeds."""

    trains_agents: ClassVar[bool] = False
    """True for kinds whose results later stages name as `checkpoint: "@<stage>/<agent>"`."""

    kind: str
    name: str | None = None
    env: EnvRef
    seed: NonNegativeCount | None = None
    max_steps: Count | None = None
    memory_limit: Count | None = None
    """MB of memory each worker process may use before it is stopped (default: 4096, or less
    to fit the machine; `--memory-limit` overrides)."""

    def agent_refs(self) -> list[tuple[Loc, AgentRef]]:
        """Every agent reference of the stage with its location (field path) in the stage."""
        return []


class TeamStage(StageModel):
    """A stage played by one team: `agents` maps env agent names (or globs) to agents."""

    agents: dict[str, AgentRef] = Field(min_length=1)

    def agent_refs(self) -> list[tuple[Loc, AgentRef]]:
        return [(("agents", pattern), ref) for pattern, ref in self.agents.items()]
