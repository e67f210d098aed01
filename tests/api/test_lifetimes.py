"""A key's ``expires_in_seconds`` counts from its ``created_at``, to the second, however much
time passes between the reads of the clock that making it takes."""

from __future__ import annotations

from datetime import timedelta

import httpx

from support.clock import FakeClock

Headers = dict[str, str]
HOUR = 3600


async def test_an_admin_keys_lifetime_counts_from_its_creation(
    client: httpx.AsyncClient, admin_headers: Headers, clock: FakeClock
) -> None:
    clock.step = timedelta(seconds=0.6)  # a second boundary between any two reads
    created = await client.post(
        "/v1/organization/admin_api_keys",
        json={"name": "temp", "expires_in_seconds": HOUR},
        headers=admin_headers,
    )
    key = created.json()
    assert key["expires_at"] - key["created_at"] == HOUR


async def test_a_service_account_keys_lifetime_counts_from_its_creation(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, clock: FakeClock
) -> None:
    accounts = f"/v1/organization/projects/{project_id}/service_accounts"
    clock.step = timedelta(seconds=0.6)
    created = await client.post(
        accounts, json={"name": "deployer", "expires_in_seconds": HOUR}, headers=admin_headers
    )
    assert created.status_code == 200, created.text
    first = created.json()["api_key"]
    assert first["expires_at"] - first["created_at"] == HOUR
    added = await client.post(
        f"{accounts}/{created.json()['id']}/api_keys",
        json={"name": "second", "expires_in_seconds": HOUR},
        headers=admin_headers,
    )
    assert added.status_code == 200, added.text
    second = added.json()
    assert second["expires_at"] - second["created_at"] == HOUR
