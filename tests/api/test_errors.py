"""Bad input gets a clear 4xx in OpenAI's envelope — never a 500, never a traceback."""

from __future__ import annotations

import httpx
import pytest

Headers = dict[str, str]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/v1/nothing-here", {}, 404),
        ("PUT", "/v1/organization/projects", {}, 405),
        ("GET", "/v1/organization/projects?limit=0", {}, 422),
        ("GET", "/v1/organization/projects?limit=abc", {}, 422),
        ("GET", "/v1/organization/projects?after=proj_missing", {}, 422),
        ("POST", "/v1/organization/projects", {"content": b"[]"}, 400),
        ("POST", "/v1/organization/projects", {"content": b"\xff\xfe"}, 400),
        ("POST", "/v1/organization/projects", {"json": {"name": "x" * 201}}, 422),
        ("POST", "/v1/keys/verify", {"json": {"key": 5}}, 422),
        ("POST", "/v1/keys/verify", {"json": {"key": "x" * 10000}}, 422),
        ("GET", "/v1/organization/audit_logs?effective_at[gte]=-1", {}, 422),
    ],
)
async def test_bad_requests_get_4xx_envelopes(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    method: str,
    path: str,
    kwargs: dict[str, object],
    status: int,
) -> None:
    headers = {**admin_headers, "content-type": "application/json"}
    response = await client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    assert "Traceback" not in response.text


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ok", "store": "ok"}


async def test_openapi_schema_and_docs_are_served(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/v1/organization/projects/{project_id}/api_keys/{key_id}/rotate" in schema["paths"]
    assert (await client.get("/docs")).status_code == 200
