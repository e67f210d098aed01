"""The gateway in process: what happens before any upstream call."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from keyplane.store.database import Database

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/none"


async def test_if_no_upstream_key_then_503_naming_the_setting(
    client: httpx.AsyncClient, api_key: dict[str, Any]
) -> None:
    response = await client.post(
        "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {api_key['value']}"}
    )
    assert response.status_code == 503
    assert "KEYPLANE_UPSTREAM_API_KEY" in response.json()["error"]["message"]


async def test_if_store_unreachable_then_503_not_a_pass(
    app: FastAPI, client: httpx.AsyncClient, api_key: dict[str, Any]
) -> None:
    keys = app.state.runtime.key_cache
    keys.invalidate()
    working, keys.db = keys.db, Database(UNREACHABLE)
    try:
        response = await client.post(
            "/v1/chat/completions",
            json=CHAT,
            headers={"Authorization": f"Bearer {api_key['value']}"},
        )
    finally:
        await keys.db.close()
        keys.db = working
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"


async def test_if_wrong_method_then_405_in_openai_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/chat/completions")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_if_model_missing_then_400_naming_it(
    client: httpx.AsyncClient, api_key: dict[str, Any]
) -> None:
    response = await client.post(
        "/v1/embeddings",
        json={"input": "x"},
        headers={"Authorization": f"Bearer {api_key['value']}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"
