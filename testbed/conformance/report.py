"""`testbed check env|agent`: the conformance findings as a terminal table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from testbed.conformance.env import Finding

MARKS = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[dim]·[/]"}


def show_findings(title: str, findings: list[Finding], console: Console) -> int:
    """Print the table; 1 if a check failed, else 0."""
    table = Table(title=title, title_justify="left")
    table.add_column("", width=1)
    table.add_column("check")
    table.add_column("result", overflow="fold")
    for f in findings:
        table.add_row(MARKS[f.ok], f.check, f.message)
    console.print(table)
    failed = [f.check for f in findings if f.ok is False]
    if failed:
        console.print(f"[red]✗ failed:[/] {', '.join(failed)}", highlight=False)
        return 1
    console.print("[green]✓ everything testbed relies on holds[/]")
    return 0
