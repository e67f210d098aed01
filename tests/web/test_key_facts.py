"""A key's row and page: this period's spend against its budget, its week, its old secret."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI

from keyplane.services.bootstrap import Bootstrap
from support.clock import FakeClock
from usage.report_rows import insert_rows, row
from web.conftest import WebClient
from web.test_keys import create_key


@pytest.fixture
def clock() -> FakeClock:
    # Mid-month, so that yesterday is this month and forty days ago is not.
    return FakeClock(datetime(2026, 5, 15, 12, 0, tzinfo=UTC))


async def spend(app: FastAPI, booted: Bootstrap, key_id: str, at: datetime, micro: int) -> None:
    assert booted.project_id is not None
    await insert_rows(
        app.state.runtime.database,
        [
            row(
                int(at.timestamp()),
                organization_id=booted.organization_id,
                project_id=booted.project_id,
                api_key_id=key_id,
                requests=2,
                input_tokens=10,
                output_tokens=10,
                cost_micro_usd=micro,
            )
        ],
    )


async def test_spend_counts_this_budget_period_only_and_shows_the_share(
    app: FastAPI, owner: WebClient, project_id: str, booted: Bootstrap, clock: FakeClock
) -> None:
    location, _ = await create_key(owner, project_id, budget_usd="5", budget_period="month")
    key_id = location.split("/keys/")[1].split("/")[0]
    await spend(app, booted, key_id, clock(), 1_250_000)
    await spend(app, booted, key_id, clock() - timedelta(days=1), 750_000)
    await spend(app, booted, key_id, clock() - timedelta(days=40), 9_000_000)  # last month's
    page = (await owner.get(f"/projects/{project_id}")).text
    assert "$2.00 of $5.00 this month" in page
    assert "40% used" in page and "meter-40" in page
    assert "4 req: usage of app in the last 7 days, $2.00" in page  # the week: two days
    assert f"/usage?range=7d&amp;project={project_id}&amp;key={key_id}" in page
    spark = re.search(r'<svg class="sparkline".*?</svg>', page)
    assert spark and spark.group(0).count('class="spark-bar"') == 2
    assert spark.group(0).count('class="spark-zero"') == 5
    key_page = (await owner.get(f"/projects/{project_id}/keys/{key_id}")).text
    assert "$2.00 of $5.00 this month" in key_page and 'name="budget_usd"' in key_page


async def test_a_key_over_its_budget_reads_as_over(
    app: FastAPI, owner: WebClient, project_id: str, booted: Bootstrap, clock: FakeClock
) -> None:
    location, _ = await create_key(owner, project_id, budget_usd="1", budget_period="day")
    key_id = location.split("/keys/")[1].split("/")[0]
    await spend(app, booted, key_id, clock(), 1_100_000)
    page = (await owner.get(f"/projects/{project_id}")).text
    assert "$1.10 of $1.00 today" in page and "110% used" in page
    assert 'class="spend-text over"' in page and "meter-100 over" in page


async def test_without_a_budget_the_row_says_so(owner: WebClient, project_id: str) -> None:
    await create_key(owner, project_id)
    page = (await owner.get(f"/projects/{project_id}")).text
    assert "No budget" in page and "0 req: usage of app" in page


async def test_after_a_rotation_with_grace_the_row_says_until_when_the_old_secret_works(
    owner: WebClient, project_id: str, clock: FakeClock
) -> None:
    location, _ = await create_key(owner, project_id)
    key_url = location.split("/secret")[0]
    await owner.get(f"{key_url}/rotate")
    assert (await owner.post(f"{key_url}/rotate", {"grace": "86400"})).status_code == 303
    until = (clock() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S UTC")
    page = (await owner.get(f"/projects/{project_id}")).text
    assert "Old secret works until <time" in page and until in page
    clock.advance(days=1, seconds=1)
    assert "Old secret works until" not in (await owner.get(f"/projects/{project_id}")).text
