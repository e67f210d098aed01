"""``/v1/organization/webhook``: set, show, rotate and clear the organisation's webhook."""

from __future__ import annotations

import httpx
import pytest

Headers = dict[str, str]
PATH = "/v1/organization/webhook"


async def test_if_url_set_then_secret_shown_once_and_hint_after(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await client.post(
        PATH, json={"url": "https://hooks.example/kp"}, headers=admin_headers
    )
    assert created.status_code == 200, created.text
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    shown = (await client.get(PATH, headers=admin_headers)).json()
    assert shown == {
        "object": "organization.webhook",
        "url": "https://hooks.example/kp",
        "secret_hint": f"whsec_...{secret[-4:]}",
        "secret": None,
    }
    moved = await client.post(PATH, json={"url": "https://other.example/"}, headers=admin_headers)
    assert moved.json()["secret"] is None  # changing the URL keeps the secret
    assert moved.json()["secret_hint"] == shown["secret_hint"]


async def test_if_secret_rotated_then_a_new_one_is_shown(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    first = (
        await client.post(PATH, json={"url": "https://hooks.example/"}, headers=admin_headers)
    ).json()["secret"]
    rotated = await client.post(f"{PATH}/rotate_secret", headers=admin_headers)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] not in (None, first)
    audit = await client.get(
        "/v1/organization/audit_logs",
        params={"event_types[]": "organization.webhook.secret_rotated"},
        headers=admin_headers,
    )
    events = audit.json()["data"]
    assert [e["keyplane_type"] for e in events] == ["organization.webhook.secret_rotated"]
    assert first not in audit.text and rotated.json()["secret"] not in audit.text


async def test_if_cleared_then_no_url_and_rotation_needs_a_url(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    await client.post(PATH, json={"url": "https://hooks.example/"}, headers=admin_headers)
    cleared = await client.delete(PATH, headers=admin_headers)
    assert cleared.json()["url"] is None
    assert (await client.get(PATH, headers=admin_headers)).json()["url"] is None
    rotated = await client.post(f"{PATH}/rotate_secret", headers=admin_headers)
    assert rotated.status_code == 404
    assert "set its URL first" in rotated.json()["error"]["message"]


@pytest.mark.parametrize(
    "url", ["hooks.example/x", "ftp://hooks.example/", "https://", "https://x/" + "a" * 2000]
)
async def test_if_url_is_not_http_then_422_in_the_envelope(
    client: httpx.AsyncClient, admin_headers: Headers, url: str
) -> None:
    response = await client.post(PATH, json={"url": url}, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "url"


async def test_if_no_admin_key_then_401(client: httpx.AsyncClient) -> None:
    assert (await client.get(PATH)).status_code == 401
    assert (await client.post(PATH, json={"url": "https://x.example/"})).status_code == 401
