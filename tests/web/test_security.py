"""The dashboard's rules: CSRF on every form, readers change nothing, members see only theirs."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from keyplane.services.bootstrap import Bootstrap
from keyplane.web.app import PAGES
from web.conftest import Invite, WebClient


def dashboard_posts() -> list[str]:
    return sorted(
        route.path
        for module in PAGES
        for route in module.router.routes
        if isinstance(route, APIRoute) and "POST" in (route.methods or set())
    )


def filled(path: str, project_id: str) -> str:
    """A concrete URL for a route path, with ids that exist or not."""
    return (
        path.replace("{project_id}", project_id)
        .replace("{key_id}", "key_missing")
        .replace("{user_id}", "user_missing")
        .replace("{invite_id}", "inv_missing")
    )


async def test_every_post_without_the_csrf_token_is_refused(
    app: FastAPI, owner: WebClient, project_id: str, booted: Bootstrap
) -> None:
    posts = dashboard_posts()
    assert len(posts) >= 15
    for path in posts:
        if path in ("/login", "/setup", "/invite"):
            continue  # checked against the double-submit cookie; see test_access
        for token in (None, "", "forged-token"):
            data = {"name": "x"} if token is None else {"name": "x", "csrf_token": token}
            response = await owner.http.post(filled(path, project_id), data=data)
            assert response.status_code == 403, (path, response.text)
            assert "This form expired" in response.text
    # Nothing happened: still only the default project, and it kept its name.
    projects = await app.state.runtime.projects.list(organization_id=booted.organization_id)
    assert [p.name for p in projects.items] == ["Default project"]


async def test_a_reader_can_see_but_every_post_is_refused(
    app: FastAPI, owner: WebClient, invited: Invite, project_id: str
) -> None:
    reader = await invited("reader@example.com", "reader")
    for path in ("/projects", f"/projects/{project_id}", "/usage", "/audit"):
        assert (await reader.get(path)).status_code == 200, path
    for path in dashboard_posts():
        if path in ("/login", "/setup", "/invite", "/logout"):
            continue
        response = await reader.post(filled(path, project_id), {"name": "x", "role": "owner"})
        assert response.status_code == 403, (path, response.text)
        assert "<html" in response.text and '"error"' not in response.text
    keys = await reader.get(f"/projects/{project_id}")
    assert "Create new secret key" not in keys.text
    assert (await reader.post("/logout")).status_code == 303


async def test_a_member_sees_only_their_projects(
    owner: WebClient, invited: Invite, project_id: str
) -> None:
    await owner.get("/projects")
    created = await owner.post("/projects", {"name": "Theirs"})
    theirs = created.headers["location"].rsplit("/", 1)[1]
    member = await invited("member@example.com", "member", (theirs,))

    listing = await member.get("/projects")
    assert "Theirs" in listing.text and "Default project" not in listing.text
    assert (await member.get(f"/projects/{theirs}")).status_code == 200
    for path in (
        f"/projects/{project_id}",
        f"/projects/{project_id}/keys/new",
        f"/projects/{project_id}/settings",
    ):
        hidden = await member.get(path)
        assert hidden.status_code == 404, path
        assert "Default project" not in hidden.text
    await member.get(f"/projects/{theirs}/keys/new")
    refused = await member.post(f"/projects/{project_id}/keys", {"name": "sneaky"})
    assert refused.status_code == 404
    made = await member.post(f"/projects/{theirs}/keys", {"name": "mine"})
    assert made.status_code == 303
    for path in ("/members", "/admin-keys", "/audit"):
        assert (await member.get(path)).status_code == 403, path


async def test_a_member_cannot_create_projects_or_invite(owner: WebClient, invited: Invite) -> None:
    member = await invited("m@example.com", "member")
    await member.get("/projects")
    assert (await member.post("/projects", {"name": "mine"})).status_code == 403
    assert (await member.post("/members/invite", {"email": "x@example.com"})).status_code == 403


async def test_an_admin_cannot_make_or_touch_owners(
    app: FastAPI, owner: WebClient, invited: Invite, booted: Bootstrap
) -> None:
    admin = await invited("admin@example.com", "admin")
    members = await app.state.runtime.members.all(organization_id=booted.organization_id)
    owner_id = next(m.user.id for m in members if m.role == "owner")
    await admin.get("/members")
    made = await admin.post("/members/invite", {"email": "o2@example.com", "role": "owner"})
    assert made.status_code == 403
    assert (await admin.post(f"/members/{owner_id}/role", {"role": "reader"})).status_code == 403
    assert (await admin.post(f"/members/{owner_id}/remove")).status_code == 403


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1/organization/projects"])
async def test_api_paths_keep_their_json_errors(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers={"accept": "text/html"})
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["message"]


async def test_unknown_dashboard_pages_are_html_404s(owner: WebClient) -> None:
    response = await owner.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.text and "<html" in response.text


async def test_pages_forbid_framing_and_caching(owner: WebClient) -> None:
    response = await owner.get("/projects")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
