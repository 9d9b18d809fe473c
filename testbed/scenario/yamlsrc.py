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


MAX_BYTES = 10_000_000
"""Scenario files are small; a larger file is refused before it is parsed."""
MAX_VALUES = 100_000
"""Values in a document once aliases are expanded: a few aliases nested inside each other
(an "alias bomb") would otherwise expand exponentially."""
MAX_DEPTH = 100
"""Nesting levels of a document."""


def parse_yaml(text: str, where: str) -> tuple[yaml.Node | None, Any]:
    """Compose and construct one YAML document within the size and depth limits."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_size(node, where)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
        raise BadInput(message, where=place) from None
    except RecursionError:
        raise BadInput(
            f"the YAML is nested more than {MAX_DEPTH} levels deep", where=where
        ) from None
    finally:
        loader.dispose()
    return node, data


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_size(root: yaml.Node, where: str) -> None:
    """Refuse a document whose expanded size or depth passes the limits; linear in the number
    of distinct nodes (an alias is the same node object, counted once per use)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in size:
            continue
        if not children_done:
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in size)
            if len(stack) > 4 * MAX_VALUES:
                raise BadInput(f"the YAML holds more than {MAX_VALUES} values", where=where)
            continue
        children = _children(node)
        size[key] = 1 + sum(size.get(id(c), 0) for c in children)
        depth[key] = 1 + max((depth.get(id(c), 0) for c in children), default=0)
        if size[key] > MAX_VALUES:
            raise BadInput(
                f"the YAML expands to more than {MAX_VALUES} values (aliases nested in aliases?)",
                where=where,
            )
        if depth[key] > MAX_DEPTH:
            raise BadInput(f"the YAML is nested more than {MAX_DEPTH} levels deep", where=where)


def load_yaml(path: str | Path) -> tuple[Any, Source]:
    """Parse a YAML file; return its data and the line of every field."""
    path = Path(path)
    if path.is_dir():
        example = next(iter(sorted(path.glob("*.yaml"))), path / "<name>.yaml")
        raise BadInput(
            f"{str(path)!r} is a folder, not a scenario file",
            hint=f"pass one of its .yaml files, e.g. {example}",
        )
    if not path.is_file():
        raise BadInput(f"scenario file {str(path)!r} not found")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise BadInput(
                f"scenario file {str(path)!r} is {path.stat().st_size // 1_000_000} MB; "
                f"scenario files are small (at most {MAX_BYTES // 1_000_000} MB)"
            )
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"scenario file {str(path)!r} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise BadInput(f"cannot read scenario file {str(path)!r}: {exc.strerror}") from None
    source = Source(str(path))
    node, data = parse_yaml(text, str(path))
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
        value = parse_yaml(raw, f"--set {text}")[1] if raw.strip() else ""
    except BadInput as exc:
        if not exc.message.startswith("invalid YAML"):
            raise
        value = raw  # not YAML: the text itself
    return tuple(part for part in key.strip().split(".")), value


def apply_override(data: dict[str, Any], path: Path_, value: Any, label: str) -> None:
    """Set `data[path] = value`, creating mappings on the way; list items by index."""
    node: Any = data
    for depth, part in enumerate(path[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise BadInput(f"{label}: {_no_item(path[: depth + 1], node)}")
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
            raise BadInput(f"{label}: {_no_item(path, node)}")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise BadInput(f"{label}: {'.'.join(path[:-1])} is not a mapping")


def _no_item(path: Path_, items: list[Any]) -> str:
    where = ".".join(path[:-1])
    if not items:
        return f"{where} is an empty list"
    return f"{where} has items 0 to {len(items) - 1}, not {path[-1]!r}"
