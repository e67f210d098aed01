"""``organization/users``, ``organization/invites`` and ``projects/{id}/users``.

OpenAI's face of the dashboard's members, roles and invites. An organisation user's ``role``
is keyplane's own (owner, admin, member, reader). Invites speak OpenAI's two roles (``owner``,
``reader``) and also take keyplane's ``admin`` and ``member``; ``keyplane_role`` says which.
A project user is a member of the project; keyplane has no per-project owners, so ``owner``
means an organisation owner or admin, who see every project.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from keyplane.api.deps import AdminPrincipal
from keyplane.api.schemas import Strict, unix
from keyplane.api.unsupported import refuse, refuse_set
from keyplane.auth.principal import Principal
from keyplane.errors import NotFoundError, ValidationFailedError
from keyplane.runtime.deps import InvitesDep, MembersDep, NowDep, ProjectsDep
from keyplane.services.invites import status_of
from keyplane.services.members import MANAGERS, Access, Member, MemberService
from keyplane.store.models import Invite
from keyplane.values.kinds import Role

router = APIRouter(prefix="/v1/organization", tags=["people"])
PageLimit = Annotated[int, Query(ge=1, le=100)]


def access_of(principal: Principal) -> Access:
    """An admin key acts with an owner's rights, as OpenAI's admin keys do."""
    return Access(
        user_id=principal.key.id, organization_id=principal.organization_id, role=Role.OWNER
    )


class UserUpdate(Strict):
    role: str | None = None
    role_id: str | None = None
    technical_level: str | None = None
    developer_persona: str | None = None


class InviteProject(Strict):
    id: str
    role: Literal["member", "owner"]


class InviteCreate(Strict):
    email: str = Field(max_length=320)
    role: Literal["owner", "reader", "admin", "member"]
    projects: list[InviteProject] = Field(default_factory=list, max_length=100)


class ProjectUserCreate(Strict):
    role: str
    user_id: str | None = None
    email: str | None = None


class ProjectUserUpdate(Strict):
    role: str | None = None


def _user_view(member: Member) -> dict[str, Any]:
    return {
        "object": "organization.user",
        "id": member.user.id,
        "name": member.user.name,
        "email": member.user.email,
        "role": member.role.value,
        "added_at": unix(member.joined_at),
        "project_ids": member.project_ids,
    }


def _page(items: list[dict[str, Any]], *, limit: int, after: str | None) -> dict[str, Any]:
    ids = [item["id"] for item in items]
    if after is not None:
        if after not in ids:
            raise ValidationFailedError(f"No item with id '{after}' to page after.", param="after")
        items = items[ids.index(after) + 1 :]
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }


async def _member(members: MemberService, organization_id: str, user_id: str) -> Member:
    for member in await members.all(organization_id=organization_id):
        if member.user.id == user_id:
            return member
    raise NotFoundError(f"No user with id '{user_id}'.", param="user_id")


# --- organisation users -------------------------------------------------------------------


@router.get("/users")
async def list_users(
    principal: AdminPrincipal,
    members: MembersDep,
    limit: PageLimit = 20,
    after: str | None = None,
    emails: Annotated[list[str] | None, Query()] = None,
    emails_brackets: Annotated[list[str] | None, Query(alias="emails[]")] = None,
) -> dict[str, Any]:
    wanted = {e.strip().lower() for e in (emails or []) + (emails_brackets or [])}
    found = await members.all(organization_id=principal.organization_id)
    views = [_user_view(m) for m in found if not wanted or m.user.email.lower() in wanted]
    return _page(views, limit=limit, after=after)


@router.get("/users/{user_id}")
async def get_user(user_id: str, principal: AdminPrincipal, members: MembersDep) -> Any:
    return _user_view(await _member(members, principal.organization_id, user_id))


@router.post("/users/{user_id}")
async def update_user(
    user_id: str, body: UserUpdate, principal: AdminPrincipal, members: MembersDep
) -> Any:
    refuse_set(
        role_id=body.role_id,
        technical_level=body.technical_level,
        developer_persona=body.developer_persona,
    )
    if body.role is None:
        return _user_view(await _member(members, principal.organization_id, user_id))
    member = await members.change_role(
        organization_id=principal.organization_id,
        user_id=user_id,
        role=body.role,
        actor=principal.actor,
        by=access_of(principal),
    )
    return _user_view(member)


@router.delete("/users/{user_id}")
async def delete_user(user_id: str, principal: AdminPrincipal, members: MembersDep) -> Any:
    await members.remove(
        organization_id=principal.organization_id,
        user_id=user_id,
        actor=principal.actor,
        by=access_of(principal),
    )
    return {"object": "organization.user.deleted", "id": user_id, "deleted": True}


# --- invites ------------------------------------------------------------------------------


def _invite_view(invite: Invite, *, now: datetime) -> dict[str, Any]:
    role = invite.role
    return {
        "object": "organization.invite",
        "id": invite.id,
        "email": invite.email,
        "role": "owner" if role in MANAGERS else "reader",
        "keyplane_role": role.value,
        "status": status_of(invite, now=now),
        "created_at": unix(invite.created_at),
        "expires_at": unix(invite.expires_at),
        "accepted_at": None if status_of(invite, now=now) != "accepted" else unix(invite.used_at),
        "projects": [{"id": pid, "role": "member"} for pid in invite.project_ids],
    }


@router.get("/invites")
async def list_invites(
    principal: AdminPrincipal,
    invites: InvitesDep,
    now: NowDep,
    limit: PageLimit = 20,
    after: str | None = None,
) -> dict[str, Any]:
    page = await invites.page(organization_id=principal.organization_id, limit=limit, after=after)
    return {
        "object": "list",
        "data": [_invite_view(i, now=now) for i in page.items],
        "first_id": page.first_id,
        "last_id": page.last_id,
        "has_more": page.has_more,
    }


@router.post("/invites")
async def create_invite(
    body: InviteCreate, principal: AdminPrincipal, invites: InvitesDep, now: NowDep
) -> Any:
    """An invite; ``invite_url`` (keyplane's, shown once) is the link to send the person."""
    if any(p.role == "owner" for p in body.projects):
        raise refuse("projects.role", "keyplane has no per-project owners; invite as member.")
    issued = await invites.create(
        organization_id=principal.organization_id,
        email=body.email,
        role=body.role,
        project_ids=[p.id for p in body.projects],
        actor=principal.actor,
        by=access_of(principal),
    )
    return {**_invite_view(issued.invite, now=now), "invite_url": f"/invite?token={issued.token}"}


@router.get("/invites/{invite_id}")
async def get_invite(
    invite_id: str, principal: AdminPrincipal, invites: InvitesDep, now: NowDep
) -> Any:
    invite = await invites.get(organization_id=principal.organization_id, invite_id=invite_id)
    return _invite_view(invite, now=now)


@router.delete("/invites/{invite_id}")
async def delete_invite(invite_id: str, principal: AdminPrincipal, invites: InvitesDep) -> Any:
    await invites.get(organization_id=principal.organization_id, invite_id=invite_id)
    await invites.revoke(
        organization_id=principal.organization_id,
        invite_id=invite_id,
        actor=principal.actor,
        by=access_of(principal),
    )
    return {"object": "organization.invite.deleted", "id": invite_id, "deleted": True}


# --- project users ------------------------------------------------------------------------


def _project_user_view(member: Member) -> dict[str, Any]:
    return {
        "object": "organization.project.user",
        "id": member.user.id,
        "name": member.user.name,
        "email": member.user.email,
        "role": "owner" if member.role in MANAGERS else "member",
        "added_at": unix(member.joined_at),
    }


def _project_role(member: Member, role: str | None) -> None:
    """Refuse a project role keyplane cannot give: it has no per-project owners."""
    if role in (None, "member"):
        return
    if role == "owner" and member.role in MANAGERS:
        return
    if role == "owner":
        raise refuse(
            "role", "keyplane has no per-project owners; make the person an organisation admin."
        )
    raise ValidationFailedError("role must be member or owner.", param="role")


@router.get("/projects/{project_id}/users")
async def list_project_users(
    project_id: str,
    principal: AdminPrincipal,
    members: MembersDep,
    projects: ProjectsDep,
    limit: PageLimit = 20,
    after: str | None = None,
) -> dict[str, Any]:
    await projects.get(organization_id=principal.organization_id, project_id=project_id)
    found = await members.all(organization_id=principal.organization_id)
    views = [_project_user_view(m) for m in found if project_id in m.project_ids]
    return _page(views, limit=limit, after=after)


async def _project_member(
    members: MemberService, principal: Principal, project_id: str, user_id: str
) -> Member:
    member = await _member(members, principal.organization_id, user_id)
    if project_id not in member.project_ids:
        raise NotFoundError(
            f"No user with id '{user_id}' in project '{project_id}'.", param="user_id"
        )
    return member


@router.post("/projects/{project_id}/users")
async def add_project_user(
    project_id: str,
    body: ProjectUserCreate,
    principal: AdminPrincipal,
    members: MembersDep,
    projects: ProjectsDep,
) -> Any:
    await projects.get(organization_id=principal.organization_id, project_id=project_id)
    everyone = await members.all(organization_id=principal.organization_id)
    email = (body.email or "").strip().lower()
    member = next(
        (
            m
            for m in everyone
            if (body.user_id and m.user.id == body.user_id)
            or (email and m.user.email.lower() == email)
        ),
        None,
    )
    if member is None:
        raise NotFoundError(
            "No user with this user_id or email in the organisation; invite them first.",
            param="user_id" if body.user_id else "email",
        )
    _project_role(member, body.role)
    updated = await members.set_projects(
        organization_id=principal.organization_id,
        user_id=member.user.id,
        project_ids=sorted({*member.project_ids, project_id}),
        actor=principal.actor,
        by=access_of(principal),
    )
    return _project_user_view(updated)


@router.get("/projects/{project_id}/users/{user_id}")
async def get_project_user(
    project_id: str, user_id: str, principal: AdminPrincipal, members: MembersDep
) -> Any:
    return _project_user_view(await _project_member(members, principal, project_id, user_id))


@router.post("/projects/{project_id}/users/{user_id}")
async def update_project_user(
    project_id: str,
    user_id: str,
    body: ProjectUserUpdate,
    principal: AdminPrincipal,
    members: MembersDep,
) -> Any:
    member = await _project_member(members, principal, project_id, user_id)
    _project_role(member, body.role)
    return _project_user_view(member)


@router.delete("/projects/{project_id}/users/{user_id}")
async def remove_project_user(
    project_id: str, user_id: str, principal: AdminPrincipal, members: MembersDep
) -> Any:
    member = await _project_member(members, principal, project_id, user_id)
    await members.set_projects(
        organization_id=principal.organization_id,
        user_id=user_id,
        project_ids=[p for p in member.project_ids if p != project_id],
        actor=principal.actor,
        by=access_of(principal),
    )
    return {"object": "organization.project.user.deleted", "id": user_id, "deleted": True}
