"""`testbed list`: what is registered (envs, agents) and which scenario files a folder holds."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from testbed import registry
from testbed.errors import BadInput
from testbed.stages import load_scenario


def _env_rows() -> list[dict[str, object]]:
    rows = []
    for env_id in registry.env_ids():
        spec = registry.ENVS.get(env_id)
        if spec is None:
            rows.append(
                {
                    "id": env_id,
                    "kind": "?",
                    "api": "?",
                    "agents": "?",
                    "actions": "?",
                    "costs": [],
                    "description": "(plugin)",
                }
            )
            continue
        rows.append(
            {
                "id": env_id,
                "kind": spec.kind,
                "api": spec.api,
                "agents": spec.agents,
                "actions": spec.actions,
                "costs": list(spec.costs),
                "description": spec.description,
                "extra": spec.extra,
            }
        )
    return rows


def _agent_rows() -> list[dict[str, object]]:
    rows = []
    for agent_id in registry.agent_ids():
        spec = registry.AGENTS.get(agent_id)
        rows.append(
            {
                "id": agent_id,
                "topic": spec.topic if spec else "plugin",
                "envs": list(spec.envs) if spec else [],
                "description": spec.description if spec else "",
            }
        )
    return rows


def _scenario_rows(folder: Path) -> list[dict[str, object]]:
    rows = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            s = load_scenario(path, check_refs=False)
        except BadInput as exc:
            rows.append(
                {
                    "file": str(path),
                    "name": "(invalid)",
                    "kinds": [],
                    "envs": [],
                    "description": exc.render(),
                }
            )
            continue
        rows.append(
            {
                "file": str(path),
                "name": s.name,
                "kinds": [st.kind for st in s.stages],
                "envs": [st.env.id for st in s.stages],
                "description": s.description,
            }
        )
    return rows


def show_listing(what: str, as_json: bool, folder: Path, console: Console) -> int:
    """`testbed list envs|agents|scenarios`: a table, or JSON for machines."""
    if what == "envs":
        rows = _env_rows()
        columns = ["id", "kind", "api", "agents", "actions", "costs", "description"]
    elif what == "agents":
        rows = _agent_rows()
        columns = ["id", "topic", "envs", "description"]
    else:
        rows = _scenario_rows(folder)
        columns = ["file", "name", "kinds", "envs", "description"]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"testbed {what} ({len(rows)})", title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            *(
                ", ".join(map(str, v)) if isinstance(v, list | tuple) else str(v or "")
                for v in (row.get(c) for c in columns)
            )
        )
    console.print(table)
    return 0
