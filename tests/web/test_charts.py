"""Server-side charts: round axes, stacked bars, words for every bar, escaped labels."""

from __future__ import annotations

import re

import pytest

from keyplane.web.charts import MIN_SLOTS, Series, bar_chart, nice_step


@pytest.mark.parametrize(
    ("value", "integer", "step"),
    [
        (0, True, 1),
        (0.3, True, 1),
        (1.5, True, 2),
        (5.25, True, 10),
        (26, True, 30),
        (0.3, False, 0.3),
        (0.0042, False, 0.005),
        (1200, True, 2000),
    ],
)
def test_grid_steps_are_round(value: float, integer: bool, step: float) -> None:
    assert nice_step(value, integer=integer) == pytest.approx(step)


def test_bars_stack_and_labels_are_escaped() -> None:
    svg = bar_chart(
        ["May 1", "May 2"],
        [Series("<script>", [1, 2], "#000"), Series("b", [0, 2], "#111")],
        title="Requests",
    )
    assert str(svg).count("<rect") == 3  # a zero part draws nothing
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="Requests"' in svg
    assert "&lt;script&gt;: 1" in svg  # in the bar's words too


def test_a_single_bucket_is_one_slim_bar_in_the_middle() -> None:
    chart = str(bar_chart(["May 1"], [Series("gpt-4o", [3], "#10a37f")], title="Requests"))
    assert chart.count('class="column"') == 1  # one bar to hover or focus
    assert chart.count('class="column pad"') == MIN_SLOTS - 1
    assert 'tabindex="0" aria-label="May 1: 3 (gpt-4o: 3)"' in chart
    assert chart.count("<rect") == 1 and 'width="7"' in chart


def test_every_bar_says_its_values_in_words_and_the_legend_is_inside() -> None:
    chart = str(
        bar_chart(
            [f"{h:02d}:00" for h in range(24)],
            [Series("input", [1.0] * 24, "#10a37f"), Series("output", [2.0] * 24, "#6366f1")],
            title="Tokens",
        )
    )
    assert chart.count('role="img"') == 24 and chart.count('tabindex="0"') == 1
    assert "00:00: 3 (input: 1; output: 2)" in chart
    legend = chart.split('<ul class="legend">', 1)[1].split("</ul>", 1)[0]
    assert "swatch-0" in legend and "swatch-1" in legend and "output" in legend
    assert chart.index("legend") < chart.index("</figure>")
    shown = re.findall(r'<span class="x-tick[^"]*">([^<]+)</span>', chart)
    assert len(shown) <= 8 and shown[0] == "00:00"
