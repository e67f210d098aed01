"""``last_used_at`` is kept in memory and written in batches: the newest time wins, an older
touch never moves it back, and many keys are one statement run over their rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from keyplane.auth.last_used import LastUsedTracker
from keyplane.store.database import Database
from keyplane.store.models import ApiKey
from support.clock import FakeClock
from support.statements import recorded


async def _last_used(database: Database, key_id: str) -> Any:
    async with database.session() as session:
        return (
            await session.execute(select(ApiKey.last_used_at).where(ApiKey.id == key_id))
        ).scalar()


async def test_the_newest_touch_is_written_and_an_older_one_never_moves_it_back(
    app: FastAPI, api_key: dict[str, Any], clock: FakeClock
) -> None:
    database: Database = app.state.runtime.database
    tracker = LastUsedTracker(database)
    now = clock()
    tracker.touch(api_key["id"], now)
    tracker.touch(api_key["id"], now - timedelta(seconds=5))  # out of order: kept the newest
    assert await tracker.flush() == 1
    assert (await _last_used(database, api_key["id"])).replace(tzinfo=None) == now.replace(
        tzinfo=None
    )
    tracker.touch(api_key["id"], now - timedelta(minutes=1))  # another instance's older news
    await tracker.flush()
    assert (await _last_used(database, api_key["id"])).replace(tzinfo=None) == now.replace(
        tzinfo=None
    )
    assert await tracker.flush() == 0


async def test_many_keys_are_written_by_one_statement_over_their_rows(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    project_id: str,
    clock: FakeClock,
) -> None:
    database: Database = app.state.runtime.database
    ids = []
    for index in range(3):
        created = await client.post(
            f"/v1/organization/projects/{project_id}/api_keys",
            json={"name": f"key {index}"},
            headers=admin_headers,
        )
        ids.append(created.json()["id"])
    with recorded(database) as statements:
        tracker = LastUsedTracker(database)
        for key_id in ids:
            tracker.touch(key_id, clock())
        assert await tracker.flush() == 3
    updates = [s.many for s in statements if s.sql.lstrip().upper().startswith("UPDATE API_KEYS")]
    assert updates == [True]
    assert all([await _last_used(database, key_id) for key_id in ids])
