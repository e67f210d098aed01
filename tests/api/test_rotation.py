"""Rotation: a new secret, the same key id; the old secret lives for the grace period."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from support.clock import FakeClock

Headers = dict[str, str]


def rotate_url(project_id: str, key_id: str) -> str:
    return f"/v1/organization/projects/{project_id}/api_keys/{key_id}/rotate"


async def code_of(client: httpx.AsyncClient, headers: Headers, key: str) -> str:
    response = await client.post("/v1/keys/verify", json={"key": key}, headers=headers)
    return str(response.json()["code"])


async def test_rotation_keeps_the_id_and_refuses_the_old_secret_at_once(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, api_key: dict[str, Any]
) -> None:
    response = await client.post(rotate_url(project_id, api_key["id"]), headers=admin_headers)
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["id"] == api_key["id"]
    assert rotated["name"] == api_key["name"]
    assert rotated["value"] != api_key["value"]
    assert rotated["redacted_value"] == f"kp_proj_...{rotated['value'][-4:]}"
    assert await code_of(client, admin_headers, rotated["value"]) == "VALID"
    assert await code_of(client, admin_headers, api_key["value"]) == "REVOKED"


async def test_old_secret_works_until_the_grace_period_ends(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    project_id: str,
    api_key: dict[str, Any],
    clock: FakeClock,
) -> None:
    rotated = (
        await client.post(
            rotate_url(project_id, api_key["id"]),
            json={"grace_period_seconds": 300},
            headers=admin_headers,
        )
    ).json()
    clock.advance(seconds=299)
    assert await code_of(client, admin_headers, api_key["value"]) == "VALID"
    assert await code_of(client, admin_headers, rotated["value"]) == "VALID"
    clock.advance(seconds=2)
    assert await code_of(client, admin_headers, api_key["value"]) == "REVOKED"
    assert await code_of(client, admin_headers, rotated["value"]) == "VALID"


async def test_same_idempotency_key_returns_the_same_secret_and_rotates_once(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, api_key: dict[str, Any]
) -> None:
    headers = {**admin_headers, "Idempotency-Key": "rotate-2026-11-29"}
    url = rotate_url(project_id, api_key["id"])
    first, second = await asyncio.gather(
        client.post(url, json={"grace_period_seconds": 60}, headers=headers),
        client.post(url, json={"grace_period_seconds": 60}, headers=headers),
    )
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json()["value"] == second.json()["value"]
    third = await client.post(url, json={"grace_period_seconds": 60}, headers=headers)
    assert third.json()["value"] == first.json()["value"]

    events = (
        await client.get(
            "/v1/organization/audit_logs",
            params={"type": "api_key.rotated", "target_id": api_key["id"]},
            headers=admin_headers,
        )
    ).json()
    assert len(events["data"]) == 1
    assert await code_of(client, admin_headers, first.json()["value"]) == "VALID"


async def test_a_new_idempotency_key_rotates_again(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, api_key: dict[str, Any]
) -> None:
    url = rotate_url(project_id, api_key["id"])
    one = await client.post(url, headers={**admin_headers, "Idempotency-Key": "a"})
    two = await client.post(url, headers={**admin_headers, "Idempotency-Key": "b"})
    assert one.json()["value"] != two.json()["value"]
    assert await code_of(client, admin_headers, one.json()["value"]) == "REVOKED"


async def test_rotation_keeps_permissions_models_and_metadata(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str
) -> None:
    created = (
        await client.post(
            f"/v1/organization/projects/{project_id}/api_keys",
            json={
                "name": "scoped",
                "permissions": {"mode": "read_only"},
                "allowed_models": ["gpt-4o"],
                "metadata": {"owner": "ana"},
            },
            headers=admin_headers,
        )
    ).json()
    rotated = (
        await client.post(rotate_url(project_id, created["id"]), headers=admin_headers)
    ).json()
    for field in ("permissions", "allowed_models", "metadata", "created_at", "name"):
        assert rotated[field] == created[field]


async def test_revoked_key_cannot_be_rotated(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, api_key: dict[str, Any]
) -> None:
    await client.delete(
        f"/v1/organization/projects/{project_id}/api_keys/{api_key['id']}", headers=admin_headers
    )
    response = await client.post(rotate_url(project_id, api_key["id"]), headers=admin_headers)
    assert response.status_code == 409


async def test_grace_period_out_of_range_is_422(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, api_key: dict[str, Any]
) -> None:
    response = await client.post(
        rotate_url(project_id, api_key["id"]),
        json={"grace_period_seconds": -1},
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "grace_period_seconds"
