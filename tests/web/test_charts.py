"""Server-side SVG charts: round axes, stacked bars, escaped labels."""

from __future__ import annotations

import pytest

from keyplane.web.charts import Series, bar_chart, nice_step


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
