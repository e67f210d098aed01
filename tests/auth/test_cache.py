"""The key cache: short-lived entries, negative entries, no store access for malformed keys."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.audit.actor import SYSTEM
from keyplane.auth.cache import KeyCache
from keyplane.auth.resolve import KeyStatus
from keyplane.keys import generate_key
from keyplane.keys.format import KeyKind
from keyplane.store.database import Database
from support.clock import FakeClock

UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/none"


class Ticks:
    """Monotonic time a test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_malformed_key_is_refused_without_the_store() -> None:
    database = Database(UNREACHABLE)
    cache = KeyCache(database, brand="kp")
    resolution = await cache.resolve("kp_proj_nope", now=FakeClock()())
    assert resolution.status is KeyStatus.MALFORMED
    await database.close()


async def test_entries_live_for_the_ttl_then_reload(
    app: FastAPI, api_key: dict[str, Any], clock: FakeClock
) -> None:
    ticks = Ticks()
    database: Database = app.state.runtime.database
    cache = KeyCache(database, brand="kp", ttl_seconds=1.0, monotonic=ticks)
    first = await cache.resolve(api_key["value"], now=clock())
    assert first.valid and first.key is not None
    await app.state.runtime.keys.revoke(
        organization_id=first.key.organization_id,
        project_id=api_key["project_id"],
        key_id=api_key["id"],
        actor=SYSTEM,
    )
    ticks.now = 0.99  # still the cached verdict
    assert (await cache.resolve(api_key["value"], now=clock())).valid
    ticks.now = 1.01
    assert (await cache.resolve(api_key["value"], now=clock())).status is KeyStatus.REVOKED


async def test_unknown_key_is_cached_as_unknown(app: FastAPI, clock: FakeClock) -> None:
    ticks = Ticks()
    cache = KeyCache(app.state.runtime.database, brand="kp", monotonic=ticks)
    unknown = generate_key(KeyKind.PROJECT)
    assert (await cache.resolve(unknown, now=clock())).status is KeyStatus.NOT_FOUND
    working, cache.db = cache.db, Database(UNREACHABLE)
    try:  # served from the cache: the store is not asked again within the ttl
        assert (await cache.resolve(unknown, now=clock())).status is KeyStatus.NOT_FOUND
        ticks.now = 2.0
        with pytest.raises(OSError, match=r"\d"):
            await cache.resolve(unknown, now=clock())
    finally:
        await cache.db.close()
        cache.db = working


async def test_a_cached_key_is_refused_once_its_expiry_passes_without_a_reload(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    project_id: str,
    clock: FakeClock,
) -> None:
    created = await client.post(
        f"/v1/organization/projects/{project_id}/api_keys",
        json={"name": "expiring", "expires_at": int(clock().timestamp()) + 60},
        headers=admin_headers,
    )
    key = created.json()["value"]
    cache = KeyCache(app.state.runtime.database, brand="kp", monotonic=Ticks())  # never stale
    assert (await cache.resolve(key, now=clock())).valid
    clock.advance(seconds=59)
    assert (await cache.resolve(key, now=clock())).valid
    clock.advance(seconds=1)
    assert (await cache.resolve(key, now=clock())).status is KeyStatus.EXPIRED


async def test_a_cached_old_secret_is_refused_once_its_grace_period_ends_without_a_reload(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    project_id: str,
    api_key: dict[str, Any],
    clock: FakeClock,
) -> None:
    await client.post(
        f"/v1/organization/projects/{project_id}/api_keys/{api_key['id']}/rotate",
        json={"grace_period_seconds": 300},
        headers=admin_headers,
    )
    cache = KeyCache(app.state.runtime.database, brand="kp", monotonic=Ticks())  # never stale
    assert (await cache.resolve(api_key["value"], now=clock())).valid
    clock.advance(seconds=299)
    assert (await cache.resolve(api_key["value"], now=clock())).valid
    clock.advance(seconds=2)
    assert (await cache.resolve(api_key["value"], now=clock())).status is KeyStatus.REVOKED


def test_ttl_above_one_second_is_refused() -> None:
    with pytest.raises(ValueError, match="ttl"):
        KeyCache(Database(UNREACHABLE), brand="kp", ttl_seconds=2)
