"""Every change leaves an audit event with actor, target, time and client IP."""

from __future__ import annotations

from typing import Any

import httpx

Headers = dict[str, str]
AUDIT = "/v1/organization/audit_logs"


async def test_key_lifecycle_leaves_events_in_order(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, api_key: dict[str, Any]
) -> None:
    url = f"/v1/organization/projects/{project_id}/api_keys/{api_key['id']}"
    await client.post(url, json={"name": "renamed"}, headers=admin_headers)
    await client.post(f"{url}/rotate", headers=admin_headers)
    await client.delete(url, headers=admin_headers)

    page = (
        await client.get(AUDIT, params={"target_id": api_key["id"]}, headers=admin_headers)
    ).json()
    types = [e["type"] for e in page["data"]]
    assert types == ["api_key.deleted", "api_key.updated", "api_key.updated", "api_key.created"]
    precise = [e["keyplane_type"] for e in page["data"]]
    assert precise == ["api_key.deleted", "api_key.rotated", "api_key.updated", "api_key.created"]
    newest = page["data"][0]
    assert newest["object"] == "organization.audit_log"
    assert newest["actor"]["type"] == "api_key"
    assert newest["actor"]["api_key"]["type"] == "service_account"
    assert newest["actor"]["keyplane_type"] == "admin_key"
    assert newest["actor"]["ip_address"] == "203.0.113.7"
    assert newest["actor"]["label"].startswith("kp_admin_...")
    assert newest["target"] == {"type": "api_key", "id": api_key["id"]}
    assert isinstance(newest["effective_at"], int)
    updated = page["data"][2]
    assert updated["data"]["changes"] == {"name": "renamed"}
    assert updated["api_key.updated"] == {
        "id": api_key["id"],
        "changes_requested": {"name": "renamed"},
    }
    rotated = page["data"][1]
    assert rotated["api_key.updated"]["changes_requested"]["rotated"] is True
    assert api_key["value"] not in str(page)


async def test_filters_by_type_actor_and_time(
    client: httpx.AsyncClient, admin_headers: Headers, api_key: dict[str, Any]
) -> None:
    await client.post("/v1/organization/projects", json={"name": "p"}, headers=admin_headers)
    created = (
        await client.get(AUDIT, params={"type": "project.created"}, headers=admin_headers)
    ).json()
    assert {e["type"] for e in created["data"]} == {"project.created"}
    assert len(created["data"]) == 2  # the default project and "p"

    mine = created["data"][0]["actor"]["id"]
    by_actor = (await client.get(AUDIT, params={"actor_id": mine}, headers=admin_headers)).json()
    assert {e["actor"]["id"] for e in by_actor["data"]} == {mine}

    future = (
        await client.get(AUDIT, params={"effective_at[gte]": 4102444800}, headers=admin_headers)
    ).json()
    assert future["data"] == []


async def test_audit_log_pages_newest_first(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    for i in range(5):
        await client.post(
            "/v1/organization/projects", json={"name": f"p{i}"}, headers=admin_headers
        )
    first = (await client.get(AUDIT, params={"limit": 2}, headers=admin_headers)).json()
    second = (
        await client.get(
            AUDIT, params={"limit": 2, "after": first["last_id"]}, headers=admin_headers
        )
    ).json()
    ids = [e["id"] for e in first["data"] + second["data"]]
    assert len(set(ids)) == 4
    assert first["has_more"] is True
