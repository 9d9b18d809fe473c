"""Run-level documents assembled from each stage's own part: summary.md and the JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

VERDICT_ICONS = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "⚠️"}


def summary_markdown(
    scenario: str, verdict: str | None, sections: Sequence[tuple[Any, list[str]]]
) -> str:
    """A Markdown summary that fits a CI job summary: a heading per stage (its kind, name and
    env), then the lines the stage's kind wrote for it."""
    heading = f"# testbed: {scenario}"
    if verdict:
        heading += f" — {VERDICT_ICONS[verdict]} {verdict}"
    lines = [heading, ""]
    for result, body in sections:
        lines += [f"## {result.kind} `{result.name}` on `{result.env['id']}`", "", *body]
    return "\n".join(lines)


def junit_document(scenario: str, suites: Sequence[ET.Element]) -> str:
    """One <testsuites> document holding the stages' <testsuite> elements."""
    root = ET.Element("testsuites", name=f"testbed audit {scenario}")
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
