"""The shape of the code: no import loops (also not hidden inside functions), the foundation
imports nothing above it, modules stay small, and the stage table is consistent."""

from __future__ import annotations

import ast
import typing
from collections import defaultdict
from pathlib import Path

from testbed import stages

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"testbed": "testbed", "envs": "testbed.envs", "agents": "testbed.agents"}
FOUNDATION = {
    "testbed._quiet",
    "testbed._version",
    "testbed.errors",
    "testbed.joint",
    "testbed.protocols",
    "testbed.seeding",
}


def _modules() -> dict[str, Path]:
    modules = {}
    for folder, package in PACKAGES.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Our modules that `module` imports anywhere (module level or inside functions), except
    under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(n) for node in ast.walk(tree) if _type_checking_only(node) for n in ast.walk(node)
    }
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import sub` imports the submodule, not names of pkg/__init__.py
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        found |= {n for n in names if n in known and n != module}
    return found


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    return {m: _imported(m, p, known) for m, p in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for vertex in sorted(graph):
        if vertex not in index:
            visit(vertex)
    return found


def test_there_are_no_import_loops() -> None:
    assert cycles(import_graph()) == []


def test_the_loop_finder_finds_a_loop() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_foundation_imports_nothing_above_it() -> None:
    graph = import_graph()
    for module in FOUNDATION:
        assert graph[module] <= FOUNDATION, f"{module} imports {graph[module] - FOUNDATION}"


def test_modules_stay_small() -> None:
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in _modules().items()}
    assert {m: n for m, n in sizes.items() if n > 500} == {}, "split these (STYLE.md)"


def test_every_kind_of_the_table_is_what_its_model_says() -> None:
    for name, kind in stages.KINDS.items():
        literal = kind.model.model_fields["kind"].annotation
        assert typing.get_args(literal) == (name,), name
        for override in kind.quick:  # short-run settings name fields of the kind
            assert override.partition("=")[0].split(".")[0] in kind.model.model_fields
    by_kind: defaultdict[str, int] = defaultdict(int)
    for kind in stages.KINDS.values():
        by_kind[kind.model.__name__] += 1
    assert max(by_kind.values()) == 1


def test_imports_inside_functions_count(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from testbed.stages import KINDS\n"
        "def f():\n    from testbed.runner import run\n    from testbed import registry\n"
    )
    found = _imported("testbed.late", module, _modules())
    assert found == {"testbed.runner", "testbed.registry"}
