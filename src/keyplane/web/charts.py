"""Stacked bar charts, drawn on the server: no library, no CDN, and nothing inline to style.

The bars are an SVG that stretches to the chart's width (the page's Content-Security-Policy
allows no inline styles, and SVG presentation attributes are not styles). The words — axis
labels, legend, the value of each bar — are HTML laid over it, so they keep their size
(12 px and up) however wide the chart is drawn. Each bar's column can be focused: the
arrow keys move between columns (``static/app.js``) and its values show as on hover.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

PALETTE = ("#10a37f", "#6366f1", "#f59e0b", "#ef4444", "#0ea5e9", "#a855f7", "#94a3b8")
TICKS = 4
MIN_SLOTS = 12  # one bucket is one slim bar in the middle, not a slab across the chart
SLOT, BAR, HEIGHT = 10, 7, 100
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    color: str


def nice_step(value: float, *, integer: bool = False) -> float:
    """The smallest round grid step (1, 2, 2.5, 3 or 5 times a power of ten) >= ``value``."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 3, 5, 10):
        step = factor * power
        if step >= value and (not integer or step == int(step)):
            return max(step, 1.0) if integer else step
    return 10.0 * power


@dataclass(frozen=True)
class _Layout:
    count: int
    slots: int
    pad: int
    top: float

    def x(self, i: int) -> float:
        return (self.pad + i) * SLOT + (SLOT - BAR) / 2


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
    integer: bool = True,
) -> Markup:
    """One bar per label, stacked by series, with a legend, axes and a value per bar."""
    count = len(labels)
    totals = [sum(s.values[i] for s in series) for i in range(count)]
    top = TICKS * nice_step(max(totals, default=0) / TICKS, integer=integer)
    slots = max(count, MIN_SLOTS)
    layout = _Layout(count=count, slots=slots, pad=(slots - count) // 2, top=top)
    parts = [f'<figure class="chart" aria-label="{escape(title)}">']
    parts += _legend(series)
    parts.append('<div class="chart-body">')
    parts += _y_axis(top, fmt)
    parts.append('<div class="plot">')
    parts += _bars(layout, series)
    parts += _columns(layout, labels, series, totals, title, fmt)
    parts.append("</div>")
    parts += _x_axis(layout, labels)
    parts.append("</div></figure>")
    return Markup("".join(parts))  # noqa: S704 — every text in it went through escape()


def _legend(series: Sequence[Series]) -> list[str]:
    # Swatches are classes, named by palette position: the page's CSP allows no inline style.
    items = [
        f'<li><span class="swatch swatch-{PALETTE.index(s.color) if s.color in PALETTE else i}" '
        f'aria-hidden="true"></span>{escape(s.label)}</li>'
        for i, s in enumerate(series)
    ]
    return ['<ul class="legend">', *items, "</ul>"]


def _y_axis(top: float, fmt: Callable[[float], str]) -> list[str]:
    ticks = [
        f'<span class="y-tick y-tick-{tick}">{escape(fmt(top * tick / TICKS))}</span>'
        for tick in range(TICKS, -1, -1)
    ]
    return ['<div class="y-axis" aria-hidden="true">', *ticks, "</div>"]


def _bars(layout: _Layout, series: Sequence[Series]) -> list[str]:
    width = layout.slots * SLOT
    parts = [
        f'<svg class="bars" viewBox="0 0 {width} {HEIGHT}" preserveAspectRatio="none" '
        'aria-hidden="true" focusable="false" xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in range(TICKS + 1):
        y = HEIGHT * tick / TICKS
        parts.append(
            f'<line x1="0" x2="{width}" y1="{y:g}" y2="{y:g}" class="grid" '
            'vector-effect="non-scaling-stroke"/>'
        )
    for i in range(layout.count):
        base = float(HEIGHT)
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = HEIGHT * value / layout.top
            base -= h
            parts.append(
                f'<rect x="{layout.x(i):.2f}" y="{base:.2f}" width="{BAR}" height="{h:.2f}" '
                f'fill="{s.color}"/>'
            )
    parts.append("</svg>")
    return parts


def _columns(
    layout: _Layout,
    labels: Sequence[str],
    series: Sequence[Series],
    totals: Sequence[float],
    title: str,
    fmt: Callable[[float], str],
) -> list[str]:
    """A focusable column over each bar: its label and values, for hover, focus and readers."""
    parts = [
        f'<div class="columns" role="group" data-chart aria-label="{escape(title)}: '
        'use the arrow keys to move between bars">'
    ]
    parts += ['<span class="column pad" aria-hidden="true"></span>'] * layout.pad
    for i, label in enumerate(labels):
        lines = [f"{s.label}: {fmt(s.values[i])}" for s in series if s.values[i] > 0]
        summary = f"{label}: {fmt(totals[i])}" + (f" ({'; '.join(lines)})" if lines else "")
        side = " tip-left" if layout.pad + i >= layout.slots / 2 else ""
        rows = "".join(f"<span>{escape(line)}</span>" for line in lines)
        parts.append(
            f'<span class="column" role="img" tabindex="{0 if i == 0 else -1}" '
            f'aria-label="{escape(summary)}"><span class="tip{side}" aria-hidden="true">'
            f"<strong>{escape(label)}: {escape(fmt(totals[i]))}</strong>{rows}</span></span>"
        )
    rest = layout.slots - layout.pad - layout.count
    parts += ['<span class="column pad" aria-hidden="true"></span>'] * rest
    parts.append("</div>")
    return parts


def _x_axis(layout: _Layout, labels: Sequence[str]) -> list[str]:
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    slots = [("", "")] * layout.slots
    for i, label in enumerate(labels):
        if i % every == 0:
            # Every other label gives way on a phone, where eight would not fit.
            minor = " x-tick-minor" if (i // every) % 2 else ""
            slots[layout.pad + i] = (label, minor)
    cells = "".join(f'<span class="x-tick{minor}">{escape(text)}</span>' for text, minor in slots)
    return [f'<div class="x-axis" aria-hidden="true">{cells}</div>']


def sparkline(values: Sequence[float], *, width: int = 84, height: int = 24) -> Markup:
    """A row of tiny bars, one per value; decoration only, its numbers are said in words."""
    count = max(len(values), 1)
    top = max(values, default=0) or 1
    slot = width / count
    rects = []
    for i, value in enumerate(values):
        # A quiet day is a hairline, so seven days always read as seven.
        h, kind = (max(height * value / top, 2.0), "spark-bar") if value else (1.0, "spark-zero")
        rects.append(
            f'<rect x="{i * slot + 1:.1f}" y="{height - h:.1f}" width="{slot - 2:.1f}" '
            f'height="{h:.1f}" class="{kind}"/>'
        )
    return Markup(  # noqa: S704 — numbers only
        f'<svg class="sparkline" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-hidden="true" focusable="false" xmlns="http://www.w3.org/2000/svg">'
        f"{''.join(rects)}</svg>"
    )
