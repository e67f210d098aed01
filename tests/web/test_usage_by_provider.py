"""The Usage page groups by the upstream that served the calls, too."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from fastapi import FastAPI

from keyplane.services.bootstrap import current_instance
from support.clock import FakeClock
from usage.report_rows import insert_rows, row
from web.conftest import WebClient


async def test_usage_can_be_grouped_by_provider(
    app: FastAPI, owner: WebClient, project_id: str, clock: FakeClock
) -> None:
    instance = await current_instance(app.state.runtime.database)
    assert instance is not None
    rows = [
        ("claude-haiku-4-5", "messages", "claude", 2),
        ("gpt-4o", "chat.completions", "openai", 3),
    ]
    at = int((clock() - timedelta(hours=1)).timestamp())
    await insert_rows(
        app.state.runtime.database,
        [
            row(
                at,
                organization_id=instance.organization_id,
                project_id=project_id,
                api_key_id="key_x",
                model=model,
                endpoint=endpoint,
                provider=provider,
                requests=requests,
            )
            for model, endpoint, provider, requests in rows
        ],
    )
    page = await owner.get("/usage?range=7d&group=provider")
    assert page.status_code == 200 and "claude" in page.text and "openai" in page.text
    exported = await owner.get("/usage.csv?group=provider")
    found = {r["provider"]: int(r["requests"]) for r in csv.DictReader(io.StringIO(exported.text))}
    assert found == {"claude": 2, "openai": 3}
