"""KeyplaneMiddleware in front of a plain ASGI app, against a real server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from keyplane.sdk import AsyncVerifier, Client, KeyplaneMiddleware, VerifiedKey
from keyplane.sdk.asgi import STATE_KEY, Receive, Scope, Send
from support.server import ServerProcess


async def echo_caller(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers the verified key id the middleware left in the scope."""
    key: VerifiedKey | None = scope.get("state", {}).get(STATE_KEY)
    body = json.dumps({"key_id": key.key_id if key else None}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def verifier(sdk_server: ServerProcess) -> AsyncIterator[AsyncVerifier]:
    async with AsyncVerifier(sdk_server.url, sdk_server.admin_key, env_file=None) as verifier:
        yield verifier


def http_to(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


async def test_valid_key_reaches_the_app_with_its_facts(
    verifier: AsyncVerifier, admin: Client, project_id: str
) -> None:
    created = admin.keys.create(project_id, name="asgi")
    app = KeyplaneMiddleware(echo_caller, verifier=verifier, scopes=["models.read"])
    async with http_to(app) as http:
        answer = await http.get(
            "/", headers={"Authorization": f"Bearer {created.value.get_secret_value()}"}
        )
    assert answer.json() == {"key_id": created.id}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "MISSING"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "MISSING"),
        ({"Authorization": "Bearer not-a-key"}, "MALFORMED"),
    ],
)
async def test_if_no_good_key_then_401_json(
    verifier: AsyncVerifier, headers: dict[str, str], code: str
) -> None:
    async with http_to(KeyplaneMiddleware(echo_caller, verifier=verifier)) as http:
        answer = await http.get("/", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["detail"]["code"] == code


async def test_custom_header_and_excluded_paths(
    verifier: AsyncVerifier, admin: Client, project_id: str
) -> None:
    created = admin.keys.create(project_id, name="x-api-key")
    app = KeyplaneMiddleware(
        echo_caller, verifier=verifier, header="X-API-Key", exclude_paths=["/healthz"]
    )
    async with http_to(app) as http:
        assert (await http.get("/healthz")).json() == {"key_id": None}
        plain = {"X-API-Key": created.value.get_secret_value()}
        assert (await http.get("/", headers=plain)).json() == {"key_id": created.id}
        missing = await http.get("/")
    assert "'X-API-Key: <key>'" in missing.json()["detail"]["message"]
