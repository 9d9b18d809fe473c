"""Scenario files: YAML validated by a pydantic schema, with `file:line: field` errors.

A scenario is plain data. The single-stage form puts `kind` at the top::

    name: spread-baselines        # default: the file name
    seed: 0                       # root seed: every episode's seed derives from it
    kind: evaluate
    env: mpe/simple_spread_v3     # or {id: ..., params: {...}, costs: {...}}
    agents:                       # agent-name pattern -> agent; first match wins
      "*": scripted/spread_nearest
    episodes: 100

Several stages go under `stages:` as a list of such mappings (each with its own `kind`).
Unknown keys are errors; ids are checked against the registry (with a did-you-mean); agent
parameters against the agent's own config dataclass; env parameters against its factory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    model_validator,
)

from testbed import registry
from testbed.errors import BadInput
from testbed.yamlsrc import Source, apply_override, load_yaml, parse_override

TOP_LEVEL_KEYS = {"name", "description", "seed", "stages"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvRef(_Strict):
    """Which environment, with its parameters and any costs added by the constraint wrapper."""

    id: str
    params: dict[str, Any] = Field(default_factory=dict)
    costs: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_id(cls, value: Any) -> Any:
        return {"id": value} if isinstance(value, str) else value


class AgentRef(_Strict):
    """Which agent fills a seat: a registry id or `module:attr` / `file.py:Name`, and params."""

    id: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_id(cls, value: Any) -> Any:
        return {"id": value} if isinstance(value, str) else value


class _StageBase(_Strict):
    """Fields every stage kind shares: which env, which agents fill its seats, seeds."""

    name: str | None = None
    env: EnvRef
    agents: dict[str, AgentRef] = Field(min_length=1)
    seed: NonNegativeInt | None = None
    max_steps: PositiveInt | None = None


class EvaluateStage(_StageBase):
    """`kind: evaluate`: N episodes of a team on an env; per-agent and team metrics with CIs."""

    kind: Literal["evaluate"]
    episodes: PositiveInt = 100

    @property
    def max_episodes(self) -> int:
        return self.episodes


class EpisodeRange(_Strict):
    """Sequential audit: stop between `min` and `max` episodes, once every verdict is decided."""

    min: PositiveInt = 30
    max: PositiveInt = 1000

    @model_validator(mode="after")
    def _ordered(self) -> EpisodeRange:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class CVaRSpec(_Strict):
    alpha: float = Field(gt=0, le=1)
    limit: float


class ConstraintSpec(_Strict):
    """One audited constraint: which cost it reads and one or more limits on it."""

    name: str = Field(min_length=1)
    cost: str = "total"
    agent: str = "team"
    limit: float | None = Field(default=None, ge=0)
    max_violation_rate: float | None = Field(default=None, gt=0, lt=1)
    max_mean: float | None = None
    cvar: CVaRSpec | None = None
    cost_bound: float | None = Field(default=None, gt=0)
    never_above: float | None = None
    never_max_rate: float | None = Field(default=None, gt=0, lt=1)
    max_intervention_rate: float | None = Field(default=None, gt=0, lt=1)
    intervention_per: Literal["episode", "step"] = "episode"
    regression: bool = False

    @model_validator(mode="after")
    def _has_a_limit(self) -> ConstraintSpec:
        if self.max_violation_rate is not None and self.limit is None:
            raise ValueError("max_violation_rate needs `limit` (the per-episode cost limit)")
        limits = (self.max_violation_rate, self.max_mean, self.cvar, self.never_above,
                  self.max_intervention_rate)
        if all(x is None for x in limits) and not self.regression:
            raise ValueError(
                "a constraint needs at least one of: limit + max_violation_rate, max_mean, "
                "cvar, never_above, max_intervention_rate, regression"
            )
        return self


class AuditStage(_StageBase):
    """`kind: audit`: PASS / FAIL / INCONCLUSIVE per constraint at a stated confidence."""

    kind: Literal["audit"]
    episodes: PositiveInt | EpisodeRange = 200
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    constraints: list[ConstraintSpec] = Field(min_length=1)
    baseline: dict[str, AgentRef] | None = None

    @property
    def max_episodes(self) -> int:
        return self.episodes if isinstance(self.episodes, int) else self.episodes.max

    @property
    def min_episodes(self) -> int:
        return self.episodes if isinstance(self.episodes, int) else self.episodes.min

    @model_validator(mode="after")
    def _names_unique_and_baseline(self) -> AuditStage:
        names = [c.name for c in self.constraints]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ValueError(f"constraint names must be unique; {duplicate!r} repeats")
        if any(c.regression for c in self.constraints) and not self.baseline:
            raise ValueError("`regression: true` needs a `baseline:` (agents on the same seeds)")
        return self


Stage = Annotated[EvaluateStage | AuditStage, Field(discriminator="kind")]


class Scenario(_Strict):
    name: str
    description: str = ""
    seed: NonNegativeInt = 0
    stages: list[Stage] = Field(min_length=1)

    # Where the scenario came from; not part of the schema.
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    source: Source | None = Field(default=None, exclude=True, repr=False)
    base_dir: Path | None = Field(default=None, exclude=True, repr=False)

    @model_validator(mode="after")
    def _stage_names_unique(self) -> Scenario:
        names = [s.name for s in self.stages if s.name]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ValueError(f"stage names must be unique; {duplicate!r} repeats")
        return self

    def seed_stream(self, index: int) -> str:
        """What a stage's episode seeds derive from besides the root seed: its own name when
        it has one, else its position, never the file name."""
        return self.stages[index].name or f"stage-{index}"

    def stage_seed(self, index: int) -> int:
        stage = self.stages[index]
        return self.seed if stage.seed is None else stage.seed

    def stage_name(self, index: int) -> str:
        stage = self.stages[index]
        return stage.name or (self.name if len(self.stages) == 1 else f"{self.name}[{index}]")

    def where(self, *loc: Any) -> str | None:
        return self.source.where(loc) if self.source else None


def _normalise(data: Any, source: Source) -> tuple[dict[str, Any], Source]:
    """Single-stage form -> the general `stages: [...]` form, with line numbers moved along."""
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "an empty file"
        raise BadInput(f"expected a mapping of scenario fields, got {kind}", where=source.where(()))
    if "stages" in data or not ({"kind", "env", "agents"} & set(data)):
        return data, source
    stage = {k: v for k, v in data.items() if k not in TOP_LEVEL_KEYS - {"seed"}}
    top = {k: v for k, v in data.items() if k in TOP_LEVEL_KEYS - {"seed"}}
    if "seed" in data:
        top["seed"] = data["seed"]
        stage.pop("seed")
    top["stages"] = [stage]
    moved = Source(source.file, dict(source.lines), dict(source.overrides), ("stages", "0"))
    for path, line in source.lines.items():
        if path and path[0] not in TOP_LEVEL_KEYS:
            moved.lines[("stages", "0", *path)] = line
    for path, label in source.overrides.items():
        if path and path[0] not in TOP_LEVEL_KEYS:
            moved.overrides[("stages", "0", *path)] = label
    return top, moved


def _describe(error: Mapping[str, Any]) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "union_tag_not_found":
        return "`kind` is missing: expected 'evaluate' or 'audit'"
    if error["type"] not in ("missing", "extra_forbidden") and "input" in error:
        got = error["input"]
        if not isinstance(got, dict | list):
            message += f" (got {got!r})"
    return message


def _did_you_mean(error: Mapping[str, Any], model_fields: Iterable[str]) -> str | None:
    import difflib

    if error["type"] != "extra_forbidden":
        return None
    close = difflib.get_close_matches(str(error["loc"][-1]), list(model_fields), n=1)
    return f"did you mean {close[0]!r}?" if close else None


# Parts pydantic adds to an error location for tagged unions and unions of types.
_TYPE_TAGS = {"evaluate", "audit", "int", "float", "str", "bool", "EpisodeRange", "CVaRSpec",
              "constrained-int", "constrained-float"}


def _schema_error(exc: ValidationError, source: Source) -> BadInput:
    errors = exc.errors()
    # In a union (`episodes: 200` or `{min, max}`) the branch whose type did not even match
    # explains least; prefer an error from inside the branch the user meant.
    specific = [e for e in errors if not e["type"].endswith(("_type", "_parsing"))]
    error = (specific or errors)[0]
    # Tagged unions add the tag to the location (stages.0.evaluate.env): drop it for users.
    loc = [p for p in error["loc"] if p not in _TYPE_TAGS and "[" not in str(p)]
    fields: set[str] = (
        set(TOP_LEVEL_KEYS) | set(EvaluateStage.model_fields) | set(AuditStage.model_fields)
        | set(ConstraintSpec.model_fields) | {"id", "params", "min", "max", "alpha"}
    )
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return BadInput(
        _describe(error) + more, where=source.where(loc), hint=_did_you_mean(error, fields)
    )


def parse_scenario(
    data: Any, source: Source, base_dir: Path | None = None, *, check_refs: bool = True
) -> Scenario:
    """Validate plain data into a Scenario; all errors are BadInput with file:line: field."""
    data, source = _normalise(data, source)
    data.setdefault("name", Path(source.file).stem)
    try:
        scenario = Scenario.model_validate({**data, "source": source, "base_dir": base_dir})
    except ValidationError as exc:
        raise _schema_error(exc, source) from None
    if check_refs:
        check_references(scenario)
    return scenario


def check_references(scenario: Scenario) -> None:
    """Env and agent ids exist (did-you-mean), their params fit their factory / Config."""
    for index, stage in enumerate(scenario.stages):
        where = scenario.where("stages", index, "env", "id") or "env.id"
        registry.check_env_id(stage.env.id, where=where)
        factory = registry.env_factory(stage.env.id, where=where, base_dir=scenario.base_dir)
        for key in stage.env.params:
            registry.check_env_param(
                factory,
                key,
                name=stage.env.id,
                where=scenario.where("stages", index, "env", "params", key),
            )
        seats = [("agents", p, r) for p, r in stage.agents.items()]
        if getattr(stage, "baseline", None):
            seats += [("baseline", p, r) for p, r in stage.baseline.items()]
        for field, pattern, ref in seats:
            where = scenario.where("stages", index, field, pattern, "id")
            registry.check_agent_id(ref.id, where=where)
            cls = registry.agent_class(ref.id, where=where, base_dir=scenario.base_dir)
            registry.agent_config(
                cls,
                ref.params,
                name=ref.id,
                where=scenario.where("stages", index, field, pattern, "params"),
            )


def load_scenario(
    path: str | Path, overrides: Iterable[str] = (), *, check_refs: bool = True
) -> Scenario:
    """Read, override (`key=value` strings, as `--set`) and validate a scenario file."""
    data, source = load_yaml(path)
    for text in overrides:
        keys, value = parse_override(text)
        label = f"--set {text}"
        if isinstance(data, dict) and "stages" in data and keys[0] not in TOP_LEVEL_KEYS:
            for index, _ in enumerate(data["stages"] or []):  # shorthand: every stage
                apply_override(data, ("stages", str(index), *keys), value, label)
                source.overrides[("stages", str(index), *keys)] = label
        else:
            if not isinstance(data, dict):
                data = {}
            apply_override(data, keys, value, label)
            source.overrides[keys] = label
    return parse_scenario(data, source, Path(path).resolve().parent, check_refs=check_refs)
