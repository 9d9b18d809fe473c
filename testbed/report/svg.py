"""Small inline SVG charts for the HTML report: intervals, heat maps, curves.

Each function returns one `<svg>` element as text, drawn from plain numbers, with no fonts,
scripts or links outside the page. Marks carry CSS classes (`interval`, `cell`, `series`) so
that tests (and readers of the page's source) can find them; every mark has a `<title>`
tooltip with its exact numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")


def _num(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}"


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [low, high]."""
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    start = math.ceil(low / step) * step
    return [start + i * step for i in range(int((high - start) / step + 1e-9) + 1)]


def _span(values: Sequence[float], pad: float = 0.05) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1.0, high + 1.0
    margin = (high - low) * pad
    return low - margin, high + margin


def interval_plot(
    rows: Sequence[tuple[str, float, float | None, float | None]],
    xlabel: str,
    *,
    reference: float | None = None,
) -> str:
    """One row per (label, value, low, high): a dot with a whisker over its interval (none
    when an end is missing); `reference` draws a dashed vertical line (e.g. a limit)."""
    rows = [r for r in rows if _finite(r[1])]
    if not rows:
        return ""
    ends = [v for r in rows for v in r[1:] if _finite(v)]
    if reference is not None:
        ends.append(reference)
    low, high = _span(ends)
    label_w, width, row_h, top = 150, 640, 26, 10
    plot_w = width - label_w - 20
    height = top + row_h * len(rows) + 40

    def x(value: float) -> float:
        return label_w + (value - low) / (high - low) * plot_w

    parts = [
        f'<svg class="chart intervals" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(xlabel)}">'
    ]
    axis_y = top + row_h * len(rows) + 4
    for tick in _ticks(low, high):
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top}" y2="{axis_y}" class="grid"/>'
        )
        parts.append(
            f'<text x="{x(tick):.1f}" y="{axis_y + 14}" text-anchor="middle" '
            f'class="tick">{_num(tick, 4)}</text>'
        )
    if reference is not None:
        parts.append(
            f'<line x1="{x(reference):.1f}" x2="{x(reference):.1f}" y1="{top}" '
            f'y2="{axis_y}" class="reference"/>'
        )
    for i, (label, value, lo, hi) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        tip = f"{label}: {_num(value, 5)}"
        parts.append(
            f'<g class="interval"><title>{escape(tip)}'
            + (f" [{_num(lo, 5)}, {_num(hi, 5)}]" if _finite(lo, hi) else "")
            + "</title>"
        )
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 4:.1f}" text-anchor="end" '
            f'class="label">{escape(label)}</text>'
        )
        if _finite(lo, hi):
            parts.append(
                f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                'class="whisker"/>'
            )
            for end in (lo, hi):
                parts.append(
                    f'<line x1="{x(end):.1f}" x2="{x(end):.1f}" y1="{y - 5:.1f}" '
                    f'y2="{y + 5:.1f}" class="whisker"/>'
                )
        parts.append(f'<circle cx="{x(value):.1f}" cy="{y:.1f}" r="4.5" class="dot"/></g>')
    parts.append(
        f'<text x="{label_w + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" '
        f'class="axis-label">{escape(xlabel)}</text></svg>'
    )
    return "".join(parts)


def _heat_colour(value: float, low: float, high: float) -> str:
    """Red (low) through light grey (middle) to green (high)."""
    mid = (low + high) / 2
    t = 0.0 if high == low else max(-1.0, min(1.0, (value - mid) / ((high - low) / 2)))
    grey = (236, 236, 236)
    target = (46, 160, 67) if t >= 0 else (207, 34, 46)
    r, g, b = (round(c + (d - c) * abs(t)) for c, d in zip(grey, target, strict=True))
    return f"rgb({r},{g},{b})"


def heat_map(
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    low: float | None = None,
    high: float | None = None,
    notes: Sequence[Sequence[str]] | None = None,
    caption: str = "",
) -> str:
    """A matrix of coloured cells (row i, column j: values[i][j]; None is left blank), with
    the value written in each cell and `caption` in a note below; the colour scale runs from
    `low` to `high` (default: the values' range). `notes[i][j]` is added to a cell's tooltip
    (e.g. "W/D/L 3/0/1")."""
    present = [v for row in values for v in row if _finite(v)]
    if not present:
        return ""
    low = min(present) if low is None else low
    high = max(present) if high is None else high
    cell, label_w = 56, 150
    width = label_w + cell * len(columns) + 10
    height = label_w // 2 + cell * len(rows) + 4
    top = label_w // 2
    parts = [
        f'<svg class="chart heatmap" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(caption)}">'
    ]
    for j, name in enumerate(columns):
        cx = label_w + cell * j + cell / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{top - 8}" class="label" text-anchor="start" '
            f'transform="rotate(-35 {cx:.1f} {top - 8})">{escape(name)}</text>'
        )
    for i, name in enumerate(rows):
        y = top + cell * i
        parts.append(
            f'<text x="{label_w - 8}" y="{y + cell / 2 + 4:.1f}" text-anchor="end" '
            f'class="label">{escape(name)}</text>'
        )
        for j, value in enumerate(values[i]):
            if not _finite(value):
                continue
            x0 = label_w + cell * j
            tip = f"{name} vs {columns[j]}: {_num(value, 4)}"
            if notes is not None and notes[i][j]:
                tip += f" ({notes[i][j]})"
            parts.append(
                f'<g class="cell"><title>{escape(tip)}</title><rect x="{x0}" y="{y}" '
                f'width="{cell - 2}" height="{cell - 2}" '
                f'fill="{_heat_colour(value, low, high)}"/><text x="{x0 + cell / 2 - 1}" '
                f'y="{y + cell / 2 + 4}" text-anchor="middle">{_num(value, 2)}</text>'
                "</g>"
            )
    parts.append("</svg>")
    if caption:
        parts.append(f'<p class="note">{escape(caption)}</p>')
    return "".join(parts)


def line_chart(series: dict[str, Sequence[tuple[float, float]]], xlabel: str, ylabel: str) -> str:
    """Curves (name -> [(x, y), ...]) on shared axes, with a legend."""
    series = {k: [p for p in v if _finite(*p)] for k, v in series.items()}
    series = {k: v for k, v in series.items() if v}
    if not series:
        return ""
    xs = [p[0] for v in series.values() for p in v]
    ys = [p[1] for v in series.values() for p in v]
    (x_low, x_high), (y_low, y_high) = _span(xs, 0.0), _span(ys)
    width, height, left, top, bottom = 640, 300, 60, 14, 44
    plot_w, plot_h = width - left - 150, height - top - bottom

    def px(value: float) -> float:
        return left + (value - x_low) / (x_high - x_low) * plot_w

    def py(value: float) -> float:
        return top + (1 - (value - y_low) / (y_high - y_low)) * plot_h

    parts = [
        f'<svg class="chart curves" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(ylabel)}">'
    ]
    for tick in _ticks(y_low, y_high):
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{py(tick):.1f}" '
            f'y2="{py(tick):.1f}" class="grid"/><text x="{left - 6}" '
            f'y="{py(tick) + 4:.1f}" text-anchor="end" class="tick">{_num(tick, 4)}'
            "</text>"
        )
    for tick in _ticks(x_low, x_high):
        parts.append(
            f'<text x="{px(tick):.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
            f'class="tick">{_num(tick, 4)}</text>'
        )
    for k, (name, points) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        parts.append(
            f'<g class="series"><title>{escape(name)}</title><polyline points="{path}" '
            f'fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        if len(points) == 1:
            x, y = points[0]
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        parts.append("</g>")
        ly = top + 14 + 18 * k
        parts.append(
            f'<line x1="{left + plot_w + 14}" x2="{left + plot_w + 34}" y1="{ly - 4}" '
            f'y2="{ly - 4}" stroke="{colour}" stroke-width="3"/><text '
            f'x="{left + plot_w + 40}" y="{ly}" class="label">{escape(name)}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        f'class="axis-label">{escape(xlabel)}</text><text x="14" '
        f'y="{top + plot_h / 2:.1f}" transform="rotate(-90 14 {top + plot_h / 2:.1f})" '
        f'text-anchor="middle" class="axis-label">{escape(ylabel)}</text></svg>'
    )
    return "".join(parts)
