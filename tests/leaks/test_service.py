"""``POST /v1/leaks/github``: signed reports revoke live keys at once; nothing else changes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from fastapi import FastAPI

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.keys.format import KeyKind, generate_key
from keyplane.services.bootstrap import Bootstrap
from keyplane.store.models import ApiKey
from keyplane.webhooks import SIGNATURE_HEADER, verify_signature
from leaks.signer import REPORT_PATH, GithubSigner
from support.clock import FakeClock
from webhooks.receiver import Receiver

Headers = dict[str, str]
URL = "https://github.com/o/r/blob/1/a.py"


async def verify_code(client: httpx.AsyncClient, headers: Headers, key: str) -> str:
    response = await client.post("/v1/keys/verify", json={"key": key}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["code"])


async def audit(client: httpx.AsyncClient, headers: Headers, event: str) -> list[dict[str, Any]]:
    response = await client.get(
        "/v1/organization/audit_logs", params={"event_types[]": event}, headers=headers
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["data"]
    return events


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def test_if_signed_report_of_live_key_then_revoked_and_true_positive(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: Headers,
    api_key: dict[str, Any],
    project_id: str,
    github: GithubSigner,
) -> None:
    response = await github.report(client, api_key["value"], url=URL, source="commit")
    assert response.status_code == 200, response.text
    assert response.json() == [
        {
            "token_hash": sha256(api_key["value"]),
            "token_type": "keyplane_api_key",
            "label": "true_positive",
        }
    ]
    assert await verify_code(client, admin_headers, api_key["value"]) == "REVOKED"
    (leaked,) = await audit(client, admin_headers, "api_key.leaked")
    assert leaked["type"] == "api_key.deleted"  # OpenAI's closest type, with the reason
    assert leaked["api_key.deleted"]["reason"] == "leaked"
    assert leaked["actor"]["keyplane_type"] == "leak_report"
    assert leaked["actor"]["label"] == "github"
    assert leaked["target"]["id"] == api_key["id"]
    assert leaked["data"]["url"] == URL
    assert leaked["data"]["source"] == "commit"
    assert leaked["data"]["type"] == "keyplane_api_key"
    (notice,) = await audit(client, admin_headers, "api_key.leak_notified")
    assert notice["data"]["key_id"] == api_key["id"]
    assert notice["data"]["project_id"] == project_id
    assert notice["data"]["recipients"]
    async with app.state.runtime.database.session() as session:
        key = await session.get(ApiKey, api_key["id"])
    assert key is not None
    assert (key.revoked_reason, key.leaked_url) == ("leaked", URL)
    everything = json.dumps([leaked, notice])
    assert api_key["value"] not in everything and api_key["value"] not in response.text


async def test_if_bad_signature_then_401_and_key_still_valid(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    api_key: dict[str, Any],
    github: GithubSigner,
    retired_github: GithubSigner,
) -> None:
    body = json.dumps([{"token": api_key["value"], "type": "t", "url": URL, "source": "content"}])
    forged = {**github.headers(b"[]"), "Github-Public-Key-Identifier": github.key_identifier}
    other_key = {
        **retired_github.headers(body.encode()),
        "Github-Public-Key-Identifier": github.key_identifier,
    }
    for headers in (forged, other_key):
        response = await client.post(REPORT_PATH, content=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_signature"
    assert await verify_code(client, admin_headers, api_key["value"]) == "VALID"
    assert await audit(client, admin_headers, "api_key.leaked") == []


async def test_if_unknown_key_identifier_or_unsigned_then_401(
    client: httpx.AsyncClient, admin_headers: Headers, api_key: dict[str, Any]
) -> None:
    stranger = GithubSigner(key_identifier="f" * 64)
    assert (await stranger.report(client, api_key["value"])).status_code == 401
    body = json.dumps([{"token": api_key["value"], "type": "t", "url": "", "source": ""}])
    unsigned = await client.post(REPORT_PATH, content=body)
    assert unsigned.status_code == 401
    assert "not signed" in unsigned.json()["error"]["message"]
    assert await verify_code(client, admin_headers, api_key["value"]) == "VALID"


async def test_if_reported_twice_then_revoked_once_and_true_positive_both_times(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    api_key: dict[str, Any],
    github: GithubSigner,
) -> None:
    twice_at_once = await github.report(client, api_key["value"], api_key["value"])
    again = await github.report(client, api_key["value"])
    labels = [item["label"] for item in [*twice_at_once.json(), *again.json()]]
    assert labels == ["true_positive"] * 3
    assert len(await audit(client, admin_headers, "api_key.leaked")) == 1
    assert len(await audit(client, admin_headers, "api_key.leak_notified")) == 1


async def test_if_token_is_not_ours_then_false_positive_and_nothing_changes(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    api_key: dict[str, Any],
    github: GithubSigner,
) -> None:
    value = api_key["value"]
    look_alike = value[:-1] + ("A" if value[-1] != "A" else "B")
    unknown = generate_key(KeyKind.PROJECT)
    other_brand = generate_key(KeyKind.PROJECT, brand="acme")
    junk = ["sk-proj-abc", look_alike, unknown, other_brand, "x"]
    response = await github.report(client, *junk)
    assert response.status_code == 200, response.text
    assert [item["label"] for item in response.json()] == ["false_positive"] * len(junk)
    assert [item["token_hash"] for item in response.json()] == [sha256(t) for t in junk]
    assert await verify_code(client, admin_headers, value) == "VALID"


async def test_if_leaked_key_is_the_last_admin_key_then_it_is_revoked_too(
    client: httpx.AsyncClient, admin_headers: Headers, booted: Bootstrap, github: GithubSigner
) -> None:
    assert booted.admin_key is not None
    response = await github.report(client, booted.admin_key)
    assert response.json()[0]["label"] == "true_positive"
    refused = await client.get("/v1/organization/projects", headers=admin_headers)
    assert refused.status_code == 401


async def test_if_old_secret_of_rotated_key_leaks_then_only_that_secret_dies(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    api_key: dict[str, Any],
    project_id: str,
    github: GithubSigner,
) -> None:
    rotated = await client.post(
        f"/v1/organization/projects/{project_id}/api_keys/{api_key['id']}/rotate",
        json={"grace_period_seconds": 3600},
        headers=admin_headers,
    )
    assert rotated.status_code == 200, rotated.text
    assert await verify_code(client, admin_headers, api_key["value"]) == "VALID"
    response = await github.report(client, api_key["value"])
    assert response.json()[0]["label"] == "true_positive"
    assert await verify_code(client, admin_headers, api_key["value"]) == "REVOKED"
    assert await verify_code(client, admin_headers, rotated.json()["value"]) == "VALID"
    (leaked,) = await audit(client, admin_headers, "api_key.leaked")
    assert leaked["data"]["revoked"] == "secret"


async def test_if_report_is_malformed_then_400_or_422_in_the_envelope(
    client: httpx.AsyncClient, github: GithubSigner
) -> None:
    for body, status in [(b"[{", 400), (b'{"token": "x"}', 422), (b'[{"type": "t"}]', 422)]:
        response = await client.post(REPORT_PATH, content=body, headers=github.headers(body))
        assert response.status_code == status, response.text
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}


async def test_if_org_has_a_webhook_then_leak_is_posted_signed_without_the_secret(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    api_key: dict[str, Any],
    project_id: str,
    github: GithubSigner,
) -> None:
    async with Receiver() as receiver:
        hook = await client.post(
            "/v1/organization/webhook", json={"url": receiver.url}, headers=admin_headers
        )
        secret = hook.json()["secret"]
        await github.report(client, api_key["value"], url=URL)
        (delivery,) = await receiver.wait_for(1)
    assert verify_signature(delivery.body, delivery.headers[SIGNATURE_HEADER], secret=secret)
    event = json.loads(delivery.body)
    assert event["type"] == "api_key.leaked"
    assert event["data"]["key_id"] == api_key["id"]
    assert event["data"]["project_id"] == project_id
    assert event["data"]["url"] == URL
    assert event["data"]["redacted_value"] == api_key["redacted_value"]
    assert api_key["value"] not in delivery.body.decode()


async def test_if_no_keys_file_configured_then_503_naming_the_setting(
    settings: Settings, clock: FakeClock, github: GithubSigner
) -> None:
    app = create_app(settings.model_copy(update={"github_scanning_keys": None}), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kp.test") as client:
            response = await github.report(client, "kp_proj_x")
    assert response.status_code == 503
    assert "KEYPLANE_GITHUB_SCANNING_KEYS" in response.json()["error"]["message"]
