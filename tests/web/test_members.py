"""Members: one-time invitations, role changes and removal, each an audit event."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI

from keyplane.services.bootstrap import Bootstrap
from web.conftest import PASSWORD, Invite, WebClient

INVITE_LINK = re.compile(r'value="http://[^"]+(/invite\?token=[^"]+)"')


async def test_an_invitation_link_works_once_and_is_shown_once(
    owner: WebClient, browser_factory: Callable[[], WebClient]
) -> None:
    await owner.get("/members")
    made = await owner.post("/members/invite", {"email": "new@example.com", "role": "admin"})
    page = await owner.get(made.headers["location"])
    link = INVITE_LINK.search(page.text).group(1)  # type: ignore[union-attr]
    assert INVITE_LINK.search((await owner.get(made.headers["location"])).text) is None
    assert "new@example.com" in (await owner.get("/members")).text  # pending

    guest = browser_factory()
    form = await guest.get(link)
    assert "Join as admin" in form.text and "new@example.com" in form.text
    token = link.split("token=")[1]
    accepted = await guest.post("/invite", {"token": token, "name": "Nia", "password": PASSWORD})
    assert accepted.status_code == 303
    assert (await guest.get("/members")).status_code == 200  # an admin

    late = browser_factory()
    assert (await late.get(link)).status_code == 404


async def test_inviting_a_member_twice_is_refused_next_to_the_email(
    owner: WebClient, invited: Invite
) -> None:
    await invited("twice@example.com", "reader")
    await owner.get("/members")
    again = await owner.post("/members/invite", {"email": "twice@example.com", "role": "reader"})
    assert again.status_code == 422
    assert 'id="email-error"' in again.text


async def test_role_change_and_removal_are_audited_and_end_sessions(
    app: FastAPI, owner: WebClient, invited: Invite, booted: Bootstrap
) -> None:
    reader = await invited("r@example.com", "reader")
    members = await app.state.runtime.members.all(organization_id=booted.organization_id)
    user_id = next(m.user.id for m in members if m.user.email == "r@example.com")

    await owner.get("/members")
    assert (await owner.post(f"/members/{user_id}/role", {"role": "member"})).status_code == 303
    assert (await reader.get("/audit")).status_code == 403  # a member now, at once
    await owner.get("/members")
    assert (await owner.post(f"/members/{user_id}/remove")).status_code == 303
    gone = await reader.get("/projects")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")

    audit = await owner.get("/audit")
    for event in ("member.invited", "member.added", "member.role_changed", "member.removed"):
        assert f"<code>{event}</code>" in audit.text, event


async def test_member_projects_can_be_changed(
    app: FastAPI, owner: WebClient, invited: Invite, booted: Bootstrap, project_id: str
) -> None:
    member = await invited("m@example.com", "member")
    assert "Default project" not in (await member.get("/projects")).text
    members = await app.state.runtime.members.all(organization_id=booted.organization_id)
    user_id = next(m.user.id for m in members if m.user.email == "m@example.com")
    await owner.get("/members")
    await owner.post(f"/members/{user_id}/projects", {"projects": [project_id]})
    assert "Default project" in (await member.get("/projects")).text
    bogus = await owner.post(f"/members/{user_id}/projects", {"projects": ["proj_nope"]})
    assert bogus.status_code == 422


async def test_the_last_owner_cannot_be_demoted(
    app: FastAPI, owner: WebClient, invited: Invite, booted: Bootstrap
) -> None:
    admin = await invited("a@example.com", "owner")
    members = await app.state.runtime.members.all(organization_id=booted.organization_id)
    first = next(m.user.id for m in members if m.user.email == "owner@example.com")
    await admin.get("/members")
    assert (await admin.post(f"/members/{first}/role", {"role": "admin"})).status_code == 303
    second = next(m.user.id for m in members if m.user.email == "a@example.com")
    await owner.get("/members")
    refused = await owner.post(f"/members/{second}/role", {"role": "admin"})
    assert refused.status_code == 403  # the first owner is an admin now


async def test_admin_keys_are_shown_once(owner: WebClient) -> None:
    await owner.get("/admin-keys")
    made = await owner.post("/admin-keys", {"name": "ci"})
    page = await owner.get(made.headers["location"])
    found = re.search(r"KEYPLANE_ADMIN_KEY=(kp_admin_\w+)", page.text)
    assert found
    assert found.group(1) not in (await owner.get(made.headers["location"])).text


async def test_a_removed_member_cannot_sign_in_again(
    app: FastAPI,
    owner: WebClient,
    invited: Invite,
    booted: Bootstrap,
    browser_factory: Callable[[], WebClient],
) -> None:
    await invited("gone@example.com", "reader")
    members = await app.state.runtime.members.all(organization_id=booted.organization_id)
    user_id = next(m.user.id for m in members if m.user.email == "gone@example.com")
    await owner.get("/members")
    await owner.post(f"/members/{user_id}/remove")
    web = browser_factory()
    await web.get("/login")
    response = await web.post("/login", {"email": "gone@example.com", "password": PASSWORD})
    assert response.status_code == 401
