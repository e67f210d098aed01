"""The one stack ``create_app`` builds: what the tests drive in-process is what ``serve`` runs."""

from __future__ import annotations

import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import httpx
import pytest
from fastapi import FastAPI

from keyplane.app import app_from_environment, create_app
from keyplane.cli.server import APP_FACTORY
from keyplane.config import Settings
from keyplane.services.bootstrap import Bootstrap

Headers = dict[str, str]
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


async def boom(*_args: object, **_kwargs: object) -> NoReturn:
    raise RuntimeError("a bug, not an input error")


@pytest.fixture
async def unguarded(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sees the 500 the server answers instead of the exception behind it."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://keyplane.test") as http:
        yield http


def test_serve_runs_the_app_the_tests_build() -> None:
    module, _, name = APP_FACTORY.partition(":")
    assert (module, name) == (app_from_environment.__module__, app_from_environment.__name__)
    assert app_from_environment.__module__ == create_app.__module__


async def test_in_process_requests_are_counted_for_metrics(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    refused = await client.post(
        "/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer nope"}
    )
    assert refused.status_code == 401
    assert (await client.get("/v1/organization/projects", headers=admin_headers)).is_success
    assert (await client.get("/login")).status_code == 200
    text = (await client.get("/metrics")).text
    assert 'method="POST",route="gateway_chat_completions",status="401"' in text
    assert 'method="GET",route="admin_api",status="200"' in text
    assert 'method="GET",route="dashboard",status="200"' in text


async def test_if_the_gateway_crashes_then_500_in_the_envelope_and_counted(
    app: FastAPI,
    unguarded: httpx.AsyncClient,
    api_key: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app.state.gateway, "post", boom)
    response = await unguarded.post(
        "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {api_key['value']}"}
    )
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "a bug" not in response.text and "Traceback" not in response.text
    metrics = (await unguarded.get("/metrics")).text
    assert 'method="POST",route="gateway_chat_completions",status="500"' in metrics


async def test_if_an_admin_route_crashes_then_500_in_the_envelope(
    app: FastAPI,
    unguarded: httpx.AsyncClient,
    admin_headers: Headers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app.state.runtime.projects, "list", boom)
    response = await unguarded.get("/v1/organization/projects", headers=admin_headers)
    assert response.status_code == 500
    assert response.json()["error"] == {
        "message": "Internal error; the server log has details.",
        "type": "server_error",
        "param": None,
        "code": "internal_error",
    }


async def test_if_a_dashboard_page_crashes_then_a_500_page(
    app: FastAPI, unguarded: httpx.AsyncClient, booted: Bootstrap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.runtime.sessions, "resolve", boom)
    response = await unguarded.get("/projects", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert "<html" in response.text and "a bug" not in response.text


@pytest.mark.parametrize(
    ("method", "path", "accept", "status", "kind"),
    [
        ("GET", "/v1/nothing-here", "text/html", 404, "json"),
        ("GET", "/nothing-here", "application/json", 404, "json"),
        ("GET", "/nothing-here", "text/html", 404, "html"),
        ("DELETE", "/healthz", "application/json", 405, "json"),
        ("PUT", "/v1/organization/projects", "text/html", 405, "json"),
        ("GET", "/v1/chat/completions", "application/json", 405, "json"),
    ],
)
async def test_paths_nobody_serves_answer_in_the_callers_language(
    client: httpx.AsyncClient, method: str, path: str, accept: str, status: int, kind: str
) -> None:
    response = await client.request(method, path, headers={"accept": accept})
    assert response.status_code == status
    if kind == "json":
        assert response.json()["error"]["code"] in ("not_found", "method_not_allowed")
    else:
        assert "Page not found" in response.text and "<html" in response.text


async def test_an_app_that_has_stopped_is_freed(settings: Settings) -> None:
    # Tests build an app each; one kept alive (by a cache that holds a closure over it, say)
    # stays in every full collection after, and the suite's run time grows with its length.
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://keyplane.test") as http:
            assert (await http.get("/docs")).status_code == 200
            assert (await http.get("/login")).status_code == 200
    stopped = weakref.ref(application)
    del application, transport, http
    gc.collect()
    assert stopped() is None
