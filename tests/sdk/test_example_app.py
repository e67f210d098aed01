"""The runnable FastAPI example in examples/fastapi_app, against a real keyplane server."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fastapi import FastAPI

from keyplane.keys.format import KeyKind, generate_key
from keyplane.sdk import AsyncVerifier, Client, Permissions
from sdk.transports import AsyncCountingTransport
from support.server import ServerProcess, free_port

EXAMPLE = Path(__file__).parents[2] / "examples" / "fastapi_app" / "app.py"
CACHE_TTL = 1.0


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notes_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def to_server(sdk_server: ServerProcess) -> AsyncCountingTransport:
    return AsyncCountingTransport()


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app in process, with its lifespan run, as ``uvicorn`` would."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notes") as http:
            yield http


@pytest.fixture
async def notes(
    sdk_server: ServerProcess, to_server: AsyncCountingTransport
) -> AsyncIterator[httpx.AsyncClient]:
    """The example app, its verifier counting what it sends to keyplane."""
    async with (
        AsyncVerifier(
            sdk_server.url,
            sdk_server.admin_key,
            transport=to_server,
            cache_ttl=CACHE_TTL,
            env_file=None,
        ) as verifier,
        serving(load_example().create_app(verifier)) as http,
    ):
        yield http


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_live_key_is_accepted(
    notes: httpx.AsyncClient, admin: Client, project_id: str
) -> None:
    created = admin.keys.create(project_id, name="writer")
    key = created.value.get_secret_value()
    posted = await notes.post("/notes", json={"text": "hello"}, headers=bearer(key))
    assert posted.status_code == 201, posted.text
    assert posted.json()["author_key_id"] == created.id
    listed = await notes.get("/notes", headers=bearer(key))
    assert [n["text"] for n in listed.json()] == ["hello"]
    me = (await notes.get("/whoami", headers=bearer(key))).json()
    assert me == {"key_id": created.id, "name": "writer", "project_id": project_id}


async def test_if_revoked_then_refused_within_cache_ttl(
    notes: httpx.AsyncClient, admin: Client, project_id: str
) -> None:
    created = admin.keys.create(project_id, name="soon revoked")
    headers = bearer(created.value.get_secret_value())
    assert (await notes.get("/notes", headers=headers)).status_code == 200
    admin.keys.revoke(project_id, created.id)
    revoked_at = time.monotonic()
    while (response := await notes.get("/notes", headers=headers)).status_code == 200:
        assert time.monotonic() - revoked_at < CACHE_TTL + 0.5, "still accepted after the TTL"
        await asyncio.sleep(0.05)
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "REVOKED"


async def test_if_key_lacks_scope_then_403(
    notes: httpx.AsyncClient, admin: Client, project_id: str
) -> None:
    reader = admin.keys.create(
        project_id, name="reader", permissions=Permissions(mode="read_only")
    ).value.get_secret_value()
    assert (await notes.get("/notes", headers=bearer(reader))).status_code == 200
    refused = await notes.post("/notes", json={"text": "no"}, headers=bearer(reader))
    assert refused.status_code == 403
    assert refused.json()["detail"] == {
        "code": "INSUFFICIENT_PERMISSIONS",
        "message": "This API key lacks a needed scope: notes.write.",
    }


async def test_if_tampered_then_401_without_network_call(
    notes: httpx.AsyncClient, to_server: AsyncCountingTransport, admin: Client, project_id: str
) -> None:
    key = admin.keys.create(project_id, name="tampered").value.get_secret_value()
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = await notes.get("/notes", headers=bearer(forged))
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "MALFORMED"
    assert forged not in response.text
    assert to_server.paths == []


async def test_if_no_key_then_401_with_how_to_send_it(notes: httpx.AsyncClient) -> None:
    response = await notes.get("/notes")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]["message"]
    assert (await notes.get("/healthz")).status_code == 200


async def test_if_keyplane_unreachable_then_503() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with (
        AsyncVerifier(url, "kp_admin_x", env_file=None) as verifier,
        serving(load_example().create_app(verifier)) as http,
    ):
        response = await http.get("/notes", headers=bearer(generate_key(KeyKind.PROJECT)))
    assert response.status_code == 503
    assert response.json()["detail"]["code"] == "UNAVAILABLE"
