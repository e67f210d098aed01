"""The Usage page: totals, charts and CSV from the usage reports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from keyplane.audit.actor import SYSTEM
from keyplane.services.api_keys import KeySpec
from keyplane.web.routes.usage import pick_range
from support.clock import FakeClock
from usage.report_rows import insert_rows, row
from web.conftest import Invite, WebClient


async def add_usage(
    app: FastAPI, project_id: str, organization_id: str, now: datetime, key_id: str = "key_x"
) -> None:
    rows = [
        ("gpt-4o-mini", "chat.completions", now - timedelta(hours=2), 3, 30, 12, 1500),
        ("gpt-4o", "chat.completions", now - timedelta(hours=1), 1, 100, 50, 750_000),
        ("text-embedding-3-small", "embeddings", now - timedelta(minutes=5), 2, 40, 0, 8),
    ]
    await insert_rows(
        app.state.runtime.database,
        [
            row(
                int(start.timestamp()),
                organization_id=organization_id,
                project_id=project_id,
                api_key_id=key_id,
                model=model,
                endpoint=endpoint,
                requests=requests,
                input_tokens=tokens_in,
                output_tokens=tokens_out,
                cost_micro_usd=cost,
            )
            for model, endpoint, start, requests, tokens_in, tokens_out, cost in rows
        ],
    )


async def test_usage_page_totals_and_charts(
    app: FastAPI, owner: WebClient, project_id: str, clock: FakeClock
) -> None:
    empty = await owner.get("/usage")
    assert "No usage in this range" in empty.text
    org = app.state.runtime.projects
    project = await org.get(organization_id=(await _org(app)), project_id=project_id)
    await add_usage(app, project_id, project.organization_id, clock())
    page = await owner.get("/usage")
    assert page.text.count('<figure class="chart"') == 4  # requests, input, output, cost
    assert '<div class="stat-value">6</div>' in page.text
    assert "$0.75<" in page.text  # 1500 + 750000 + 8 micro-USD, to the cent
    assert "gpt-4o-mini" in page.text and "text-embedding-3-small" in page.text
    by_project = await owner.get("/usage?range=7d&group=project")
    assert "Default project" in by_project.text


async def test_usage_csv_export(
    app: FastAPI, owner: WebClient, project_id: str, clock: FakeClock
) -> None:
    await add_usage(app, project_id, await _org(app), clock())
    response = await owner.get("/usage.csv?group=model")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sum(int(r["requests"]) for r in rows) == 6
    assert {r["model"] for r in rows} == {"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"}


async def test_a_member_sees_only_usage_of_their_projects(
    app: FastAPI, owner: WebClient, invited: Invite, project_id: str, clock: FakeClock
) -> None:
    await add_usage(app, project_id, await _org(app), clock())
    member = await invited("m@example.com", "member")
    page = await member.get("/usage")
    assert "No usage in this range" in page.text


async def test_bad_dates_get_a_clear_page_not_a_500(owner: WebClient) -> None:
    response = await owner.get("/usage?range=custom&start=2026-13-01")
    assert response.status_code == 422
    assert "YYYY-MM-DD" in response.text


def test_short_ranges_are_hourly_and_long_ones_daily() -> None:
    now = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
    assert pick_range("1d", "", "", now).width == "1h"
    assert pick_range("30d", "", "", now).width == "1d"
    assert pick_range("custom", "2026-05-01", "2026-05-02", now).width == "1h"
    week = pick_range("custom", "2026-04-01", "2026-04-30", now)
    assert week.width == "1d" and week.end - week.start == 30 * 86400


async def _org(app: FastAPI) -> str:
    from keyplane.services.bootstrap import current_instance

    instance = await current_instance(app.state.runtime.database)
    assert instance is not None
    return instance.organization_id


async def test_usage_narrows_to_a_project_or_to_one_key(
    app: FastAPI, owner: WebClient, project_id: str, clock: FakeClock
) -> None:
    org = await _org(app)
    await add_usage(app, project_id, org, clock())
    other = await app.state.runtime.projects.create(organization_id=org, name="Other", actor=SYSTEM)
    await add_usage(app, other.id, org, clock(), key_id="key_y")
    everything = await owner.get("/usage")
    assert '<div class="stat-value">12</div>' in everything.text
    one = await owner.get(f"/usage?project={project_id}")
    assert '<div class="stat-value">6</div>' in one.text
    assert f'<option value="{project_id}" selected>' in one.text
    no_such_key = await owner.get(f"/usage?project={project_id}&key=key_nope")
    assert no_such_key.status_code == 404


async def test_a_key_without_its_project_is_explained_on_the_page(owner: WebClient) -> None:
    response = await owner.get("/usage?key=key_x")
    assert response.status_code == 422
    assert 'id="project-error"' in response.text and "project of that key" in response.text
    assert '<form method="get" action="/usage"' in response.text


async def test_a_wrong_date_range_is_shown_with_the_filters(owner: WebClient) -> None:
    response = await owner.get("/usage?range=custom&start=2026-05-09&end=2026-05-01")
    assert response.status_code == 422
    assert 'id="end-error"' in response.text and "on or after the start date" in response.text
    assert 'value="2026-05-09"' in response.text  # what was asked for stays in the form
    assert 'aria-invalid="true" aria-describedby="end-error"' in response.text


async def test_a_member_cannot_narrow_usage_to_a_project_that_is_not_theirs(
    app: FastAPI, owner: WebClient, invited: Invite, project_id: str
) -> None:
    member = await invited("m@example.com", "member")
    assert (await member.get(f"/usage?project={project_id}")).status_code == 404


async def test_usage_of_one_key_counts_that_key_alone(
    app: FastAPI, owner: WebClient, project_id: str, clock: FakeClock
) -> None:
    org = await _org(app)
    issued = await app.state.runtime.keys.create(
        organization_id=org, project_id=project_id, spec=KeySpec(name="solo"), actor=SYSTEM
    )
    await add_usage(app, project_id, org, clock(), key_id=issued.key.id)
    await add_usage(app, project_id, org, clock(), key_id="key_other")
    page = await owner.get(f"/usage?project={project_id}&key={issued.key.id}&group=key")
    assert '<div class="stat-value">6</div>' in page.text
    assert "with the key <strong>solo</strong>" in page.text
    assert "key_other" not in page.text
