"""Members: invite with a one-time link, change roles and projects, remove."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from keyplane.runtime.deps import InvitesDep, MembersDep, ProjectsDep
from keyplane.services.invites import InviteService
from keyplane.services.members import ROLES, MemberService, clean_role
from keyplane.services.passwords import clean_email
from keyplane.services.projects import ProjectService
from keyplane.services.sessions import SignedIn
from keyplane.web.auth import Editor, Viewer, actor_of, is_https
from keyplane.web.errors import TAG
from keyplane.web.forms import Form
from keyplane.web.routes.keys import flashes_of
from keyplane.web.routes.projects import visible_projects
from keyplane.web.templating import pages_of

router = APIRouter(prefix="/members", tags=[TAG], include_in_schema=False)


@dataclass(frozen=True, slots=True)
class People:
    """What the members page shows: the members, pending invites and projects to grant."""

    projects: ProjectService
    members: MemberService
    invites: InviteService


def _people(projects: ProjectsDep, members: MembersDep, invites: InvitesDep) -> People:
    return People(projects, members, invites)


PeopleDep = Annotated[People, Depends(_people)]
ROLE_PLAIN = "Choose one of the roles in the list."


def _check_invite(form: Form) -> None:
    form.check("email", None, lambda: clean_email(form.text("email")))
    form.check("role", ROLE_PLAIN, lambda: clean_role(form.text("role", "member")))


@router.get("")
async def member_list(request: Request, people: PeopleDep, me: Viewer, f: str = "") -> Response:
    me.access.require_manager()
    flashes = flashes_of(request)
    flash = flashes.pop(request, me.session_id, f)
    invite_link = flash.get("link") if flash else None
    page = await _page(request, people, me, Form(), invite_link=invite_link)
    return flashes.forget(page, f, path="/members")


@router.post("/invite")
async def invite(request: Request, people: PeopleDep, me: Editor) -> Response:
    me.access.require_manager()
    form = await Form.read(request)
    issued = await form.submit(
        _check_invite,
        lambda: people.invites.create(
            organization_id=me.access.organization_id,
            email=form.text("email"),
            role=form.text("role", "member"),
            project_ids=form.texts("projects"),
            actor=actor_of(request, me),
            by=me.access,
        ),
    )
    if issued is None:
        return await _page(request, people, me, form, status=422)
    link = f"{str(request.base_url).rstrip('/')}/invite?token={issued.token}"
    response = RedirectResponse("/members", status_code=303)
    flash_id = flashes_of(request).put(
        response, me.session_id, {"link": link}, path="/members", secure=is_https(request)
    )
    response.headers["location"] = f"/members?f={flash_id}"
    return response


@router.post("/invites/{invite_id}/revoke")
async def revoke_invite(
    request: Request, invite_id: str, invites: InvitesDep, me: Editor
) -> Response:
    await invites.revoke(
        organization_id=me.access.organization_id,
        invite_id=invite_id,
        actor=actor_of(request, me),
        by=me.access,
    )
    return RedirectResponse("/members", status_code=303)


@router.post("/{user_id}/role")
async def change_role(request: Request, user_id: str, members: MembersDep, me: Editor) -> Response:
    form = await Form.read(request)
    await members.change_role(
        organization_id=me.access.organization_id,
        user_id=user_id,
        role=form.text("role"),
        actor=actor_of(request, me),
        by=me.access,
    )
    return RedirectResponse("/members", status_code=303)


@router.post("/{user_id}/projects")
async def set_projects(request: Request, user_id: str, members: MembersDep, me: Editor) -> Response:
    form = await Form.read(request)
    await members.set_projects(
        organization_id=me.access.organization_id,
        user_id=user_id,
        project_ids=form.texts("projects"),
        actor=actor_of(request, me),
        by=me.access,
    )
    return RedirectResponse("/members", status_code=303)


@router.post("/{user_id}/remove")
async def remove(request: Request, user_id: str, members: MembersDep, me: Editor) -> Response:
    await members.remove(
        organization_id=me.access.organization_id,
        user_id=user_id,
        actor=actor_of(request, me),
        by=me.access,
    )
    return RedirectResponse("/members", status_code=303)


async def _page(
    request: Request,
    people: People,
    me: SignedIn,
    form: Form,
    *,
    invite_link: str | None = None,
    status: int = 200,
) -> Response:
    org = me.access.organization_id
    projects, _ = await visible_projects(people.projects, me, limit=100)
    return pages_of(request).render(
        request,
        "members.html",
        status=status,
        me=me,
        members=await people.members.all(organization_id=org),
        invites=await people.invites.pending(organization_id=org),
        projects=projects,
        project_names={p.id: p.name for p in projects},
        roles=ROLES,
        form=form,
        invite_link=invite_link,
    )
