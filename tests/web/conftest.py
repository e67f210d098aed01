"""Fixtures for the dashboard: a signed-in browser-like client for each role."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from keyplane.config import Settings
from keyplane.services.bootstrap import Bootstrap

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class WebClient:
    """An httpx client that keeps cookies and fills in the CSRF token of the last page."""

    http: httpx.AsyncClient
    csrf: str = ""

    async def get(self, path: str, **kwargs: object) -> httpx.Response:
        response = await self.http.get(path, **kwargs)  # type: ignore[arg-type]
        self._remember(response)
        return response

    async def post(
        self, path: str, data: dict[str, object] | None = None, *, csrf: bool = True
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        response = await self.http.post(path, data=form)
        self._remember(response)
        return response

    def _remember(self, response: httpx.Response) -> None:
        found = (
            _CSRF.search(response.text)
            if "text/html" in response.headers.get("content-type", "")
            else None
        )
        if found:
            self.csrf = found.group(1)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No deliberate delay after a failed sign-in, and cheap password hashes: the tests check
    # the lockout and the flows, not how slow a guess is.
    cheap = {"login_failure_delay_seconds": 0.0, "argon2_time_cost": 1, "argon2_memory_kib": 1024}
    return settings.model_copy(update=cheap)


@pytest.fixture
async def browser_factory(
    app: FastAPI,
) -> AsyncIterator[Callable[[], WebClient]]:
    clients: list[httpx.AsyncClient] = []

    def make() -> WebClient:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))
        http = httpx.AsyncClient(
            transport=transport,
            base_url="http://keyplane.test",
            headers={"accept": "text/html"},
        )
        clients.append(http)
        return WebClient(http)

    yield make
    for http in clients:
        await http.aclose()


@pytest.fixture
async def owner(
    app: FastAPI, booted: Bootstrap, browser_factory: Callable[[], WebClient]
) -> WebClient:
    """The owner, signed in through the setup link."""
    token = await app.state.runtime.users.issue_setup_token()
    web = browser_factory()
    await web.get(f"/setup?token={token}")
    response = await web.post(
        "/setup",
        {"token": token, "name": "Olive Owner", "email": "owner@example.com", "password": PASSWORD},
    )
    assert response.status_code == 303, response.text
    return web


Invite = Callable[..., Awaitable[WebClient]]


@pytest.fixture
def invited(owner: WebClient, browser_factory: Callable[[], WebClient]) -> Invite:
    """Sign someone in with a role (and projects), invited by the owner."""

    async def make(email: str, role: str, projects: tuple[str, ...] = ()) -> WebClient:
        await owner.get("/members")
        response = await owner.post(
            "/members/invite", {"email": email, "role": role, "projects": list(projects)}
        )
        assert response.status_code == 303, response.text
        page = await owner.get(response.headers["location"])
        link = re.search(r'value="(http[^"]+/invite\?token=[^"]+)"', page.text)
        assert link is not None, page.text
        path = "/invite?" + link.group(1).split("?", 1)[1]
        web = browser_factory()
        await web.get(path)
        token = path.split("token=", 1)[1]
        accepted = await web.post("/invite", {"token": token, "name": role, "password": PASSWORD})
        assert accepted.status_code == 303, accepted.text
        return web

    return make
