"""Admin keys: list, create, revoke; project keys cannot use the admin API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

BASE = "/v1/organization/admin_api_keys"
Headers = dict[str, str]


async def test_create_list_revoke_admin_keys(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await client.post(BASE, json={"name": "ops"}, headers=admin_headers)
    assert created.status_code == 200
    key = created.json()
    assert key["object"] == "organization.admin_api_key"
    assert key["value"].startswith("kp_admin_")

    new_headers = {"Authorization": f"Bearer {key['value']}"}
    listed = (await client.get(BASE, headers=new_headers)).json()
    assert {k["name"] for k in listed["data"]} == {"Bootstrap admin key", "ops"}
    assert all("value" not in k for k in listed["data"])

    revoked = await client.delete(f"{BASE}/{key['id']}", headers=admin_headers)
    assert revoked.json()["deleted"] is True
    assert (await client.get(BASE, headers=new_headers)).status_code == 401


async def test_the_last_admin_key_cannot_be_revoked(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    only = (await client.get(BASE, headers=admin_headers)).json()["data"][0]
    response = await client.delete(f"{BASE}/{only['id']}", headers=admin_headers)
    assert response.status_code == 409
    assert "last admin key" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/organization/projects"),
        ("POST", "/v1/organization/projects"),
        ("GET", "/v1/organization/admin_api_keys"),
        ("GET", "/v1/organization/audit_logs"),
        ("POST", "/v1/keys/verify"),
    ],
)
async def test_if_project_key_calls_admin_api_then_403(
    client: httpx.AsyncClient, api_key: dict[str, Any], method: str, path: str
) -> None:
    headers = {"Authorization": f"Bearer {api_key['value']}"}
    response = await client.request(method, path, json={"name": "x", "key": "x"}, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic abc", "Bearer kp_admin_nonsense", "Bearer sk-proj-123"],
)
async def test_if_no_valid_key_then_401(
    client: httpx.AsyncClient, booted: object, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await client.get("/v1/organization/projects", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_a_well_formed_unknown_admin_key_is_401(
    client: httpx.AsyncClient, booted: object
) -> None:
    from keyplane.keys.format import KeyKind, generate_key

    headers = {"Authorization": f"Bearer {generate_key(KeyKind.ADMIN)}"}
    response = await client.get("/v1/organization/projects", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Incorrect API key provided."
