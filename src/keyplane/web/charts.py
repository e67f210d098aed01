"""Stacked bar charts drawn as SVG on the server: no script, no library, no CDN."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

PALETTE = ("#10a37f", "#6366f1", "#f59e0b", "#ef4444", "#0ea5e9", "#a855f7", "#94a3b8")
WIDTH, HEIGHT = 480, 200
LEFT, RIGHT, TOP, BOTTOM = 64, 6, 10, 24


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    color: str


TICKS = 4


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


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
    integer: bool = True,
) -> Markup:
    """One bar per label, stacked by series; ``<title>`` on each part serves as a tooltip."""
    count = max(len(labels), 1)
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = TICKS * nice_step(max(totals, default=0) / TICKS, integer=integer)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / count
    bar = max(1.0, min(slot * 0.7, 40.0))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    parts += _grid(top, plot_w, plot_h, fmt)
    for i, label in enumerate(labels):
        x = LEFT + slot * i + (slot - bar) / 2
        base = float(TOP + plot_h)
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            tip = escape(f"{label} · {s.label}: {fmt(value)}")
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{s.color}"><title>{tip}</title></rect>'
            )
    parts += _x_labels(labels, slot)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 — every text in it went through escape()


def _grid(top: float, plot_w: float, plot_h: float, fmt: Callable[[float], str]) -> list[str]:
    lines = []
    for tick in range(TICKS + 1):
        value = top * tick / TICKS
        y = TOP + plot_h - plot_h * tick / TICKS
        lines.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        lines.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{escape(fmt(value))}</text>"
        )
    return lines


def _x_labels(labels: Sequence[str], slot: float) -> list[str]:
    every = max(1, math.ceil(len(labels) / 8))
    texts = []
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = LEFT + slot * i + slot / 2
        texts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="tick">'
            f"{escape(label)}</text>"
        )
    return texts
