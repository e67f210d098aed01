"""``serve --demo`` says on every dashboard page that calls go to the stand-in (issue #15,
item 12): someone trying keyplane must not think a provider answered."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from keyplane.config import Settings
from web.conftest import WebClient

BANNER = (
    "the gateway forwards calls to keyplane's stand-in upstream, not to a provider, "
    "so no provider is called or billed."
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"demo": True})


async def test_every_page_of_a_demo_server_shows_the_banner(
    owner: WebClient, project_id: str
) -> None:
    for path in (
        "/projects",
        f"/projects/{project_id}",
        f"/projects/{project_id}/keys/new",
        f"/projects/{project_id}/controls",
        "/usage",
        "/audit",
        "/members",
        "/admin-keys",
        "/no-such-page",  # the error page too
    ):
        page = await owner.get(path)
        assert "text/html" in page.headers["content-type"], path
        assert BANNER in page.text, path
        assert page.text.count('class="demo-banner"') == 1, path


async def test_the_sign_in_page_of_a_demo_server_shows_it_before_anyone_signs_in(
    app: FastAPI,
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://keyplane.test") as http:
        page = await http.get("/login", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert BANNER in page.text


def test_serve_demo_tells_the_app_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEYPLANE_DEMO", "1")
    assert Settings().demo is True
    monkeypatch.setenv("KEYPLANE_DEMO", "0")
    assert Settings().demo is False
