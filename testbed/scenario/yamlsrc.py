"""YAML loading that remembers where every value came from, for `file:line: field` errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from testbed.errors import BadInput

Path_ = tuple[str, ...]


@dataclass
class Source:
    """Where each field path of a loaded document was written (file and line, or a --set)."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)
    overrides: dict[Path_, str] = field(default_factory=dict)
    hidden_prefix: Path_ = ()  # e.g. ("stages", "0") for a file written in single-stage form

    def replace(self, path: Path_, label: str) -> None:
        """The value at `path` now comes from an override: the file's positions under it no
        longer describe the data."""
        for known in [p for p in self.lines if p[: len(path)] == path]:
            del self.lines[known]
        for known in [p for p in self.overrides if p[: len(path)] == path]:
            del self.overrides[known]
        self.overrides[path] = label

    def where(self, loc: Sequence[Any]) -> str:
        """`file:line: a.b.c` for the deepest known prefix of `loc`."""
        path = tuple(str(p) for p in loc)
        shown = path
        if self.hidden_prefix and path[: len(self.hidden_prefix)] == self.hidden_prefix:
            shown = path[len(self.hidden_prefix) :]
        dotted = ".".join(shown)
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in self.overrides:
                return f"{self.overrides[prefix]}: {dotted}" if dotted else self.overrides[prefix]
            if prefix in self.lines:
                line = self.lines[prefix]
                return f"{self.file}:{line}: {dotted}" if dotted else f"{self.file}:{line}"
        return f"{self.file}: {dotted}" if dotted else self.file


def _walk(node: yaml.Node, path: Path_, source: Source) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                dotted = ".".join((*path, key))
                raise BadInput(f"duplicate key {key!r}", where=f"{source.file}:{line}: {dotted}")
            seen.add(key)
            source.lines[(*path, key)] = line
            _walk(value_node, (*path, key), source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            source.lines[(*path, str(index))] = item.start_mark.line + 1
            _walk(item, (*path, str(index)), source)


def load_yaml(path: str | Path) -> tuple[Any, Source]:
    """Parse a YAML file; return its data and the line of every field."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"scenario file {str(path)!r} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"scenario file {str(path)!r} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise BadInput(f"cannot read scenario file {str(path)!r}: {exc.strerror}") from None
    source = Source(str(path))
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
        raise BadInput(message, where=where) from None
    if node is not None:
        source.lines[()] = node.start_mark.line + 1
        _walk(node, (), source)
    return data, source


def parse_override(text: str) -> tuple[Path_, Any]:
    """`a.b.c=value` -> (("a","b","c"), value parsed as YAML, so numbers and lists work)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise BadInput(f"--set {text!r}: expected key=value, e.g. --set episodes=20")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return tuple(part for part in key.strip().split(".")), value


def apply_override(data: dict[str, Any], path: Path_, value: Any, label: str) -> None:
    """Set `data[path] = value`, creating mappings on the way; list items by index."""
    node: Any = data
    for depth, part in enumerate(path[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise BadInput(f"{label}: {'.'.join(path[: depth + 1])} is not an item of the list")
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise BadInput(f"{label}: {'.'.join(path[:depth])} is not a mapping")
        child = node.get(part)
        if isinstance(child, str) and depth + 1 < len(path):  # `env: id` shorthand -> mapping
            child = {"id": child}
            node[part] = child
        if child is None:
            child = node[part] = {}
        node = child
    last = path[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise BadInput(f"{label}: {'.'.join(path)} is not an item of the list")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise BadInput(f"{label}: {'.'.join(path[:-1])} is not a mapping")
