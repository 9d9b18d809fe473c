"""`testbed datasets`: the Minari datasets under a folder, as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from testbed.datasets.store import datasets_root, list_datasets
from testbed.errors import BadInput


def show_datasets(path: Path | None, *, as_json: bool, console: Console) -> int:
    """Print the datasets under `path` (default: MINARI_DATASETS_PATH or runs/datasets)."""
    root = Path(path) if path is not None else datasets_root()
    if path is not None and not root.is_dir():
        raise BadInput(f"--path {root}: no such folder")
    found = list_datasets(root) if root.is_dir() else []
    if as_json:
        print(json.dumps({"root": str(root.resolve()), "datasets": found}, indent=2))
        return 0
    if not found:
        console.print(f"no datasets under {root.resolve()} (write some with `kind: collect`)")
        return 0
    table = Table(title=f"datasets under {root.resolve()}", title_justify="left")
    for column in ("id", "episodes", "steps", "collected by"):
        table.add_column(column, overflow="fold")
    for d in found:
        if "error" in d:
            table.add_row(d["id"], "", "", f"[red]{d['error']}[/]")
        else:
            table.add_row(d["id"], str(d["episodes"]), str(d["steps"]), d["algorithm"] or "")
    console.print(table)
    return 0
