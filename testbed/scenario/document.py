"""Scenario files: YAML validated against the stage kinds' schemas, with `file:line: field`
errors, every error of a file at once.

A scenario is plain data. The single-stage form puts `kind` at the top::

    name: spread-baselines        # default: the file name
    seed: 0                       # root seed: every episode's seed derives from it
    kind: evaluate
    env: mpe/simple_spread_v3     # or {id: ..., params: {...}, costs: {...}}
    agents:                       # agent-name pattern -> agent; first match wins
      "*": scripted/spread_nearest
    episodes: 100

Several stages go under `stages:` as a list of such mappings (each with its own `kind`).
Which kinds exist, and the schema of each, is given by the caller (`testbed.stages` holds the
table); this module knows only what every stage shares (`testbed.scenario.models`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    model_validator,
)

from testbed.errors import BadInput
from testbed.scenario.models import ExecutorSpec, NonNegativeCount, StageModel, Strict
from testbed.scenario.yamlsrc import Source, apply_override, load_yaml, parse_override

TOP_LEVEL_KEYS = ("name", "description", "seed", "executor", "stages")
StageKinds = Mapping[str, type[StageModel]]


class Scenario(Strict):
    """A validated scenario: its stages (each an instance of its kind's model), and where
    every field came from (`source`), for error messages."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str
    description: str = ""
    seed: NonNegativeCount = 0
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    stages: list[SerializeAsAny[StageModel]] = Field(min_length=1)
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


class _Header(Strict):
    """The top-level fields, checked before the stages."""

    name: str
    description: str = ""
    seed: NonNegativeCount = 0
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    stages: list[Any] = Field(min_length=1)


# ---------------------------------------------------------------------------------------------
# The single-stage form


def _is_single_stage(data: dict[str, Any]) -> bool:
    return "stages" not in data and bool({"kind", "env", "agents"} & set(data))


def normalise(data: Any, source: Source) -> tuple[dict[str, Any], Source]:
    """Single-stage form -> the general `stages: [...]` form, with positions moved along."""
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "an empty file"
        raise BadInput(f"expected a mapping of scenario fields, got {kind}", where=source.where(()))
    if not _is_single_stage(data):
        return data, source
    top = {k: v for k, v in data.items() if k in TOP_LEVEL_KEYS}
    top["stages"] = [{k: v for k, v in data.items() if k not in TOP_LEVEL_KEYS}]
    moved = Source(source.file, {}, {}, ("stages", "0"))
    for path, line in source.lines.items():
        top_level = not path or path[0] in TOP_LEVEL_KEYS
        moved.lines[path if top_level else ("stages", "0", *path)] = line
    moved.lines[("stages", "0")] = source.lines.get((), 1)
    return top, moved


# ---------------------------------------------------------------------------------------------
# Overrides (`--set key=value`)


def apply_overrides(
    data: dict[str, Any], source: Source, overrides: Iterable[str], kinds: StageKinds
) -> None:
    """Apply `key=value` strings to normalised data. A key that is not a top-level field goes
    to the stage of a single-stage file, or to every stage whose kind has that field."""
    stages = data.get("stages") if isinstance(data.get("stages"), list) else None
    for text in overrides:
        keys, value = parse_override(text)
        label = f"--set {text}"
        if keys[0] in TOP_LEVEL_KEYS or stages is None:
            targets = [keys]
        elif source.hidden_prefix:
            targets = [("stages", "0", *keys)]
        else:
            targets = [
                ("stages", str(i), *keys)
                for i, stage in enumerate(stages)
                if isinstance(stage, dict)
                and keys[0] in _fields_of(kinds.get(str(stage.get("kind"))))
            ]
            if not targets:
                raise BadInput(
                    f"{label}: no stage has a field {keys[0]!r}",
                    hint="name the stage: --set stages.<index>." + ".".join(keys) + "=...",
                )
        if source.hidden_prefix and keys[:1] == ("stages",) and len(keys) > 1:
            if keys[1] != "0":
                raise BadInput(f"{label}: this file has one stage, stages.0")
        for path in targets:
            apply_override(data, path, value, label)
            source.replace(path, label)


def _fields_of(model: type[BaseModel] | None) -> set[str]:
    return set(model.model_fields) if model is not None else set()


# ---------------------------------------------------------------------------------------------
# Validation


def parse_scenario(
    data: Any,
    source: Source,
    base_dir: Path | None = None,
    *,
    kinds: StageKinds,
) -> Scenario:
    """Validate plain data (either form) into a Scenario; every error is collected into one
    BadInput whose lines name file:line: field. Whether what it names exists is
    `testbed.scenario.references`' question."""
    data, source = normalise(data, source)
    data.setdefault("name", Path(source.file).stem)
    problems: list[BadInput] = []
    try:
        header = _Header.model_validate(data)
    except ValidationError as exc:
        problems += schema_problems(exc, source, (), _Header)
        header = None
    stages = []
    raw_stages = data.get("stages") if isinstance(data.get("stages"), list) else []
    for index, raw in enumerate(raw_stages):
        stage = _parse_stage(raw, index, source, kinds, problems)
        if stage is not None:
            stages.append(stage)
    if problems:
        raise BadInput.combine(problems)
    assert header is not None
    try:
        scenario = Scenario.model_validate(
            {**header.model_dump(), "stages": stages, "source": source, "base_dir": base_dir}
        )
    except ValidationError as exc:
        raise BadInput.combine(schema_problems(exc, source, (), Scenario)) from None
    return scenario


def _parse_stage(
    raw: Any, index: int, source: Source, kinds: StageKinds, problems: list[BadInput]
) -> StageModel | None:
    loc = ("stages", str(index))
    expected = ", ".join(repr(k) for k in kinds)
    if not isinstance(raw, dict):
        got = type(raw).__name__ if raw is not None else "nothing"
        problems.append(
            BadInput(f"expected a stage (a mapping), got {got}", where=source.where(loc))
        )
        return None
    kind = raw.get("kind")
    if kind is None:
        problems.append(
            BadInput(f"`kind` is missing: expected {expected}", where=source.where(loc))
        )
        return None
    model = kinds.get(str(kind))
    if model is None:
        close = difflib.get_close_matches(str(kind), list(kinds), n=1)
        problems.append(
            BadInput(
                f"unknown kind {kind!r}: expected {expected}",
                where=source.where((*loc, "kind")),
                hint=f"did you mean {close[0]!r}?" if close else None,
            )
        )
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems += schema_problems(exc, source, loc, model)
        return None


def load_scenario(
    path: str | Path,
    overrides: Iterable[str] = (),
    *,
    kinds: StageKinds,
) -> Scenario:
    """Read, override (`key=value` strings, as `--set`) and validate a scenario file."""
    data, source = load_yaml(path)
    data, source = normalise(data, source)
    apply_overrides(data, source, overrides, kinds)
    return parse_scenario(data, source, Path(path).resolve().parent, kinds=kinds)


# ---------------------------------------------------------------------------------------------
# pydantic errors -> file:line: field messages


def _describe(error: Mapping[str, Any]) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required field is missing"
    if "input" in error:
        got = error["input"]
        if not isinstance(got, dict | list):
            message += f" (got {got!r})"
    return message


def _field_names(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    """Every field name of a model and of the models nested in it (for did-you-mean)."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for info in model.model_fields.values():
        for inner in _models_in(info.annotation):
            names |= _field_names(inner, seen)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _is_type_tag(part: Any, models: set[str]) -> bool:
    """Parts pydantic adds to an error location for unions: `int`, `EpisodeRange`, ..."""
    text = str(part)
    return text in models or "[" in text or text.startswith("constrained-") or text in (
        "int", "float", "str", "bool", "dict", "list", "none", "function-after", "tagged-union",
    )  # fmt: skip


def schema_problems(
    exc: ValidationError, source: Source, prefix: tuple[str, ...], model: type[BaseModel]
) -> list[BadInput]:
    """One BadInput per field that failed: in a union (`episodes: 200` or `{min, max}`) the
    branch whose type did not even match explains least, so an error from inside the branch
    the user meant is preferred."""
    names = _field_names(model) | set(TOP_LEVEL_KEYS)
    models = {m.__name__ for m in _all_models(model)}
    by_loc: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for error in exc.errors():
        loc = tuple(str(p) for p in error["loc"] if not _is_type_tag(p, models))
        by_loc.setdefault(loc, []).append(error)
    problems = []
    for loc, errors in by_loc.items():
        specific = [e for e in errors if not e["type"].endswith(("_type", "_parsing"))]
        if not specific and any(other[: len(loc)] == loc for other in by_loc if other != loc):
            continue
        error = (specific or errors)[0]
        hint = None
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(loc[-1], sorted(names), n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
        problems.append(BadInput(_describe(error), where=source.where((*prefix, *loc)), hint=hint))
    return problems


def _all_models(model: type[BaseModel], seen: set[type] | None = None) -> set[type[BaseModel]]:
    seen = seen if seen is not None else set()
    if model not in seen:
        seen.add(model)
        for info in model.model_fields.values():
            for inner in _models_in(info.annotation):
                _all_models(inner, seen)
    return seen
