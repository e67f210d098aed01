"""The dashboard's usage CSV keeps formula-shaped model names inert (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io

from fastapi import FastAPI

from keyplane.store.models import Project
from keyplane.usage.spreadsheet import safe_cell
from support.clock import FakeClock
from usage.report_rows import insert_rows, row
from web.conftest import WebClient

FORMULAS = ['=HYPERLINK("http://evil.example","click")', "@SUM(1+1)", "+1", "-1", "\tx", "\rx"]


async def test_if_model_names_start_like_formulas_then_the_csv_quotes_them(
    app: FastAPI, owner: WebClient, project_id: str, clock: FakeClock
) -> None:
    organization_id = await _organization_id(app, project_id)
    await insert_rows(
        app.state.runtime.database,
        [
            row(
                int(clock().timestamp()),
                organization_id=organization_id,
                project_id=project_id,
                api_key_id="key_x",
                model=model,
                input_tokens=1,
                output_tokens=1,
                cost_micro_usd=1,
            )
            for model in [*FORMULAS, "gpt-4o"]
        ],
    )
    response = await owner.get("/usage.csv?group=model")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    cells = {row["model"] for row in rows} | {row["label"] for row in rows}
    assert {"'" + formula for formula in FORMULAS} <= cells
    assert not cells & set(FORMULAS)
    assert "gpt-4o" in cells


def test_if_a_cell_is_a_number_then_it_is_left_alone() -> None:
    assert safe_cell(-5) == -5
    assert safe_cell("gpt-4o") == "gpt-4o"


async def _organization_id(app: FastAPI, project_id: str) -> str:
    async with app.state.runtime.database.session() as session:
        project = await session.get(Project, project_id)
        assert project is not None
        organization_id: str = project.organization_id
        return organization_id
