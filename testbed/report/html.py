"""One self-contained HTML page: the skeleton, tables, and the generic renderer of results.

The page holds everything inline (CSS, SVG charts; no script, font, image or link outside the
file), so it can be mailed, archived as a CI artifact or opened offline.

**Generic rendering.** Any field of a stage's result (result.json) that no kind-specific
section shows is rendered by what its data looks like, so new result fields (e.g. further
rating methods of a tournament) appear on the page without code here:

- a list of row dicts -> a table (columns: the union of the rows' keys, nested values as
  text). When the rows have a label (`entrant`, `name`, `strategy`, `agent`, `label`, or the
  first text column) and a number with an interval (`<col>`, `<col>_low`, `<col>_high`; or
  `ci_low` / `ci_high`, or `lower` / `upper`, next to `rating`, `value`, `mass`, `pi`,
  `score`, `mean` or `estimate`) it is also drawn as an interval plot;
- a dict of dicts of numbers (row -> column -> number, e.g. a payoff or a win-probability
  table) -> a heat map;
- a dict with a list of names (`entrants`, `names`, `strategies`, `agents`) and lists of
  numbers of the same length -> a table of those columns (and an interval plot as above); a
  list of lists of numbers of that size -> a heat map (rows and columns: the names);
- a dict of plain values -> a two-column table; a dict of such dicts (name -> record, nested
  dicts of plain values flattened as `outer.inner`) -> one table with a row per name; any
  other dict -> a subsection per key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from testbed.report.svg import heat_map, interval_plot

LABELS = ("entrant", "name", "strategy", "agent", "label")
VALUES = ("rating", "value", "mass", "pi", "score", "mean", "estimate")
NAMES = ("entrants", "names", "strategies", "agents")

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;
background:#f6f8fa}
header{background:#24292f;color:#fff;padding:14px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9d1d9}main{padding:8px 28px 40px;max-width:1180px}
nav{margin:8px 0 0}nav a{color:#9ecbff;margin-right:14px}
section.stage{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:4px 20px 16px;
margin:18px 0}h2{font-size:18px;border-bottom:1px solid #d8dee4;padding-bottom:6px}
h3{font-size:15px;margin:18px 0 6px}h4{font-size:14px;margin:12px 0 4px}
table{border-collapse:collapse;margin:6px 0 10px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f6f8fa}td.text,th.text{text-align:left}.note{color:#57606a;font-size:13px}
.verdict{font-weight:700;padding:1px 8px;border-radius:10px;color:#fff}
.verdict.pass{background:#1a7f37}.verdict.fail{background:#cf222e}
.verdict.inconclusive{background:#9a6700}.warn{color:#9a6700}
svg.chart{display:block;margin:6px 0 12px;font-size:12px;background:#fff}
svg .grid{stroke:#eaeef2}svg .tick{fill:#57606a;font-size:11px}svg .label{fill:#1f2328}
svg .axis-label{fill:#57606a}svg .whisker{stroke:#4c72b0;stroke-width:2}
svg .dot{fill:#4c72b0}svg .reference{stroke:#cf222e;stroke-dasharray:5 4;stroke-width:1.5}
svg .cell text{font-size:12px;fill:#1f2328}details{margin:8px 0}code{font-size:12px}
"""


def fmt(value: Any, digits: int = 4) -> str:
    """A cell's text: numbers to `digits` significant digits, None and NaN as a dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:.4e}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)[:200]
    return str(value)


def html_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, cls: str = "", raw: bool = False
) -> str:
    """A table; text cells are left-aligned. `raw`: cells are already HTML."""
    head = "".join(
        f'<th class="text">{escape(c)}</th>' if i == 0 else f"<th>{escape(c)}</th>"
        for i, c in enumerate(columns)
    )
    body = []
    for row in rows:
        cells = []
        for value in row:
            text = value if raw and isinstance(value, str) else escape(fmt(value))
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            cells.append(f"<td>{text}</td>" if numeric else f'<td class="text">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="{escape(cls)}"><thead><tr>{head}</tr></thead><tbody>'
        + "".join(body)
        + "</tbody></table>"
    )


def verdict_badge(verdict: str | None) -> str:
    if not verdict:
        return ""
    return f'<span class="verdict {escape(verdict.lower())}">{escape(verdict)}</span>'


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole document: a header with links to each (anchor, heading, body HTML) section."""
    nav = "".join(f'<a href="#{escape(anchor)}">{escape(head)}</a>' for anchor, head, _ in sections)
    body = "".join(
        f'<section class="stage" id="{escape(anchor)}"><h2>{escape(head)}</h2>{html}</section>'
        for anchor, head, html in sections
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><header>"
        f"<h1>{escape(title)}</h1><p>{subtitle}</p><nav>{nav}</nav></header>"
        f"<main>{body}</main></body></html>\n"
    )


# -- the generic renderer -------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def title_of(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def _interval_columns(rows: Sequence[dict[str, Any]]) -> tuple[str, str, str, str] | None:
    """(label, value, low, high) columns of rows that carry an interval, else None."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    label = next((k for k in LABELS if k in keys), None)
    label = label or next((k for k in keys if isinstance(rows[0].get(k), str)), None)
    if label is None:
        return None
    for key in keys:
        if f"{key}_low" in keys and f"{key}_high" in keys and _number(rows[0].get(key)):
            return label, key, f"{key}_low", f"{key}_high"
    for low, high in (("ci_low", "ci_high"), ("lower", "upper"), ("low", "high")):
        if low in keys and high in keys:
            value = next((k for k in VALUES if k in keys), None)
            if value is not None:
                return label, value, low, high
    return None


def rows_section(rows: list[dict[str, Any]], heading: str = "") -> str:
    """A list of row dicts as a table, plus an interval plot when they carry intervals."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    out = [html_table(columns, ([r.get(c) for c in columns] for r in rows), cls="generic")]
    found = _interval_columns(rows)
    if found is not None:
        label, value, low, high = found
        points = [
            (str(r.get(label)), r.get(value), r.get(low), r.get(high))
            for r in rows
            if _number(r.get(value))
        ]
        out.append(interval_plot(points, f"{heading or value}: {value} [{low}, {high}]"))
    return "".join(out)


def _matrix(value: dict[str, Any]) -> bool:
    """row -> column -> number, with at least one number."""
    inner = [v for v in value.values()]
    return (
        bool(inner)
        and all(
            isinstance(v, dict) and all(_number(x) or x is None for x in v.values()) for v in inner
        )
        and any(_number(x) for v in inner for x in v.values())
    )


def matrix_section(value: dict[str, dict[str, Any]], caption: str) -> str:
    rows = list(value)
    columns = list(dict.fromkeys([*rows, *(c for v in value.values() for c in v)]))
    columns = [c for c in columns if any(c in value[r] for r in rows)]
    cells = [[value[r].get(c) for c in columns] for r in rows]
    return heat_map(rows, columns, cells, caption=caption)


def _parallel(value: dict[str, Any]) -> tuple[str, list[str]] | None:
    for key in NAMES:
        names = value.get(key)
        if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
            return key, names
    return None


def render_value(key: str, value: Any, depth: int = 0) -> str:
    """HTML for one result field (see the module docstring for the rules)."""
    heading = f"<h{min(3 + depth, 4)}>{escape(title_of(key))}</h{min(3 + depth, 4)}>"
    if value is None or value == [] or value == {}:
        return ""
    if _plain(value):
        return heading + f"<p>{escape(fmt(value))}</p>"
    if isinstance(value, list):
        if all(isinstance(v, dict) for v in value):
            return heading + rows_section(value, title_of(key))
        return heading + f"<p>{escape(', '.join(fmt(v) for v in value))}</p>"
    if not isinstance(value, dict):
        return heading + f"<p>{escape(fmt(value))}</p>"
    if _matrix(value):
        return heading + matrix_section(value, title_of(key))
    parallel = _parallel(value)
    if parallel is not None:
        return heading + parallel_section(value, *parallel, depth=depth)
    if all(_plain(v) for v in value.values()):
        return heading + html_table(["field", "value"], value.items(), cls="fields")
    records = _records(value)
    if records is not None:
        return heading + rows_section(records, title_of(key))
    return heading + render_fields(value, depth=depth + 1)


def _flat(record: dict[str, Any]) -> dict[str, Any] | None:
    """A record's plain values, nested dicts of plain values as `outer.inner`; None if deeper."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if _plain(value):
            flat[key] = value
        elif isinstance(value, dict) and all(_plain(v) for v in value.values()):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            return None
    return flat


def _records(value: dict[str, Any]) -> list[dict[str, Any]] | None:
    """name -> record (e.g. per-agent figures) as rows with a `name` column, else None."""
    if not all(isinstance(v, dict) and v for v in value.values()):
        return None
    rows = [_flat(v) for v in value.values()]
    if any(r is None for r in rows):
        return None
    return [{"name": k, **r} for k, r in zip(value, rows, strict=True)]


def parallel_section(value: dict[str, Any], names_key: str, names: list[str], depth: int) -> str:
    """A dict of equal-length lists next to a list of names: one table, matrices as heat maps."""
    n = len(names)
    columns = [
        k
        for k, v in value.items()
        if k != names_key
        and isinstance(v, list)
        and len(v) == n
        and all(_number(x) or x is None for x in v)
    ]
    rows = [
        {
            names_key[:-1] if names_key.endswith("s") else "name": name,
            **{c: value[c][i] for c in columns},
        }
        for i, name in enumerate(names)
    ]
    out = [rows_section(rows)] if columns else []
    rest = {}
    for key, item in value.items():
        if key == names_key or key in columns:
            continue
        square = (
            isinstance(item, list)
            and len(item) == n
            and all(
                isinstance(r, list) and len(r) == n and all(_number(x) or x is None for x in r)
                for r in item
            )
        )
        if square:
            out.append(f"<h4>{escape(title_of(key))}</h4>")
            out.append(heat_map(names, names, item, caption=title_of(key)))
        else:
            rest[key] = item
    out.append(render_fields(rest, depth=depth + 1))
    return "".join(out)


def render_fields(data: dict[str, Any], skip: Iterable[str] = (), depth: int = 0) -> str:
    """Every field of `data` but `skip`: plain values in one table first, then the others."""
    skip = set(skip)
    items = [(k, v) for k, v in data.items() if k not in skip and v not in (None, [], {})]
    plain = [(k, v) for k, v in items if _plain(v)]
    out = [html_table(["field", "value"], plain, cls="fields")] if plain else []
    out += [render_value(k, v, depth) for k, v in items if not _plain(v)]
    return "".join(out)
