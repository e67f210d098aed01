"""Project API keys: create (value shown once), list, get, update, revoke."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support.clock import FakeClock

Headers = dict[str, str]


def keys_url(project_id: str, key_id: str = "") -> str:
    url = f"/v1/organization/projects/{project_id}/api_keys"
    return f"{url}/{key_id}" if key_id else url


async def verify(client: httpx.AsyncClient, headers: Headers, key: str) -> dict[str, Any]:
    response = await client.post("/v1/keys/verify", json={"key": key}, headers=headers)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


async def test_create_shows_the_value_once(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, api_key: dict[str, Any]
) -> None:
    assert api_key["object"] == "organization.project.api_key"
    assert api_key["value"].startswith("kp_proj_")
    assert api_key["redacted_value"] == f"kp_proj_...{api_key['value'][-4:]}"
    assert api_key["status"] == "active"
    assert api_key["permissions"]["mode"] == "all"

    fetched = (await client.get(keys_url(project_id, api_key["id"]), headers=admin_headers)).json()
    assert "value" not in fetched
    assert api_key["value"] not in str(fetched)
    listed = (await client.get(keys_url(project_id), headers=admin_headers)).json()
    assert "value" not in listed["data"][0]


async def test_create_with_every_field(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, clock: FakeClock
) -> None:
    expires = int(clock().timestamp()) + 3600
    body = {
        "name": "ci bot",
        "kind": "service_account",
        "permissions": {"mode": "restricted", "scopes": ["models.read", "embeddings.write"]},
        "allowed_models": ["text-embedding-3-small"],
        "allowed_ips": ["10.0.0.0/8"],
        "expires_at": expires,
        "metadata": {"team": "search"},
        "enabled": True,
    }
    created = (await client.post(keys_url(project_id), json=body, headers=admin_headers)).json()
    assert created["value"].startswith("kp_svc_")
    assert created["kind"] == "service_account"
    assert created["owner"]["type"] == "service_account"
    assert created["permissions"] == {
        "mode": "restricted",
        "scopes": ["models.read", "embeddings.write"],
    }
    assert created["allowed_models"] == ["text-embedding-3-small"]
    assert created["allowed_ips"] == ["10.0.0.0/8"]
    assert created["expires_at"] == expires
    assert created["metadata"] == {"team": "search"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "k", "permissions": {"mode": "sometimes"}}, "permissions.mode"),
        ({"name": "k", "permissions": {"mode": "restricted", "scopes": []}}, "permissions.scopes"),
        (
            {"name": "k", "permissions": {"mode": "restricted", "scopes": ["X Y"]}},
            "permissions.scopes",
        ),
        ({"name": "k", "allowed_ips": ["not-an-ip"]}, "allowed_ips"),
        ({"name": "k", "expires_at": 1}, "expires_at"),
        ({"name": "k", "expires_at": -5}, "expires_at"),
        ({"name": "k", "metadata": {"a": 1}}, "metadata.a"),
        ({"name": "k", "colour": "red"}, "colour"),
        ({"name": "k", "kind": "admin"}, "kind"),
    ],
)
async def test_bad_fields_get_422_naming_the_field(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    project_id: str,
    body: dict[str, Any],
    param: str,
) -> None:
    response = await client.post(keys_url(project_id), json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert error["message"]


async def test_a_body_that_is_not_json_is_a_clear_400(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str
) -> None:
    response = await client.post(
        keys_url(project_id),
        content=b"{not json",
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert response.status_code in (400, 422)
    assert "JSON" in response.json()["error"]["message"]


async def test_update_changes_only_given_fields(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, api_key: dict[str, Any]
) -> None:
    url = keys_url(project_id, api_key["id"])
    updated = await client.post(
        url,
        json={"name": "renamed", "allowed_models": ["gpt-4o"], "metadata": {"env": "prod"}},
        headers=admin_headers,
    )
    assert updated.status_code == 200
    key = updated.json()
    assert (key["name"], key["allowed_models"], key["metadata"]) == (
        "renamed",
        ["gpt-4o"],
        {"env": "prod"},
    )
    assert key["permissions"]["mode"] == "all"

    disabled = (await client.post(url, json={"enabled": False}, headers=admin_headers)).json()
    assert disabled["status"] == "disabled"
    assert (await verify(client, admin_headers, api_key["value"]))["code"] == "DISABLED"


async def test_expires_at_null_clears_the_expiry(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, clock: FakeClock
) -> None:
    body = {"name": "k", "expires_at": int(clock().timestamp()) + 60}
    created = (await client.post(keys_url(project_id), json=body, headers=admin_headers)).json()
    url = keys_url(project_id, created["id"])
    cleared = (await client.post(url, json={"expires_at": None}, headers=admin_headers)).json()
    assert cleared["expires_at"] is None


async def test_expired_key_is_refused(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, clock: FakeClock
) -> None:
    body = {"name": "short-lived", "expires_at": int(clock().timestamp()) + 60}
    created = (await client.post(keys_url(project_id), json=body, headers=admin_headers)).json()
    assert (await verify(client, admin_headers, created["value"]))["valid"] is True
    clock.advance(seconds=61)
    assert (await verify(client, admin_headers, created["value"]))["code"] == "EXPIRED"
    shown = (await client.get(keys_url(project_id, created["id"]), headers=admin_headers)).json()
    assert shown["status"] == "expired"


async def test_revoke_is_immediate_and_idempotent(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, api_key: dict[str, Any]
) -> None:
    url = keys_url(project_id, api_key["id"])
    first = await client.delete(url, headers=admin_headers)
    assert first.json() == {
        "object": "organization.project.api_key.deleted",
        "id": api_key["id"],
        "deleted": True,
    }
    assert (await client.delete(url, headers=admin_headers)).status_code == 200
    assert (await verify(client, admin_headers, api_key["value"]))["code"] == "REVOKED"
    assert (await client.get(url, headers=admin_headers)).json()["status"] == "revoked"
    listed = (await client.get(keys_url(project_id), headers=admin_headers)).json()
    assert api_key["id"] not in [k["id"] for k in listed["data"]]
    everything = (
        await client.get(
            keys_url(project_id), params={"include_revoked": "true"}, headers=admin_headers
        )
    ).json()
    assert api_key["id"] in [k["id"] for k in everything["data"]]

    changed = await client.post(url, json={"name": "again"}, headers=admin_headers)
    assert changed.status_code == 409


async def test_key_of_another_project_is_404(
    client: httpx.AsyncClient, admin_headers: Headers, api_key: dict[str, Any]
) -> None:
    other = (
        await client.post(
            "/v1/organization/projects", json={"name": "other"}, headers=admin_headers
        )
    ).json()
    response = await client.get(keys_url(other["id"], api_key["id"]), headers=admin_headers)
    assert response.status_code == 404


async def test_archiving_the_project_stops_its_keys(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, api_key: dict[str, Any]
) -> None:
    await client.post(f"/v1/organization/projects/{project_id}/archive", headers=admin_headers)
    assert (await verify(client, admin_headers, api_key["value"]))["code"] == "PROJECT_ARCHIVED"
