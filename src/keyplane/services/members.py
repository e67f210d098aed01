"""Who belongs to the organisation, with which role, and which projects a member may use.

Roles: ``owner`` and ``admin`` do everything (only an owner touches an owner); ``member``
manages keys in the projects listed for them and sees no other project; ``reader`` sees
everything and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.clock import Clock, system_clock
from keyplane.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)
from keyplane.store.database import Database
from keyplane.store.models import Membership, Project, ProjectMember, User, WebSession
from keyplane.values.kinds import Role

ROLES = tuple(Role)
MANAGERS = frozenset({Role.OWNER, Role.ADMIN})


@dataclass(frozen=True)
class Access:
    """What one person may see and do, derived from their role and project memberships."""

    user_id: str
    organization_id: str
    role: Role
    project_ids: frozenset[str] = frozenset()

    @property
    def manages_org(self) -> bool:
        return self.role in MANAGERS

    @property
    def read_only(self) -> bool:
        return self.role is Role.READER

    @property
    def sees_all_projects(self) -> bool:
        return self.role is not Role.MEMBER

    def sees_project(self, project_id: str) -> bool:
        return self.sees_all_projects or project_id in self.project_ids

    def require_project(self, project_id: str) -> None:
        """404, not 403, so a member learns nothing of projects that are not theirs."""
        if not self.sees_project(project_id):
            raise NotFoundError(f"No project with id '{project_id}'.", param="project_id")

    def require_manager(self) -> None:
        if not self.manages_org:
            raise PermissionDeniedError("Only owners and admins can do this.")

    def require_writer(self) -> None:
        if self.read_only:
            raise PermissionDeniedError("Readers can look but not change anything.")


@dataclass(frozen=True)
class Member:
    user: User
    role: Role
    joined_at: datetime
    project_ids: list[str] = field(default_factory=list)


class MemberService:
    def __init__(self, database: Database, *, clock: Clock = system_clock) -> None:
        self.db = database
        self.clock = clock

    async def access(self, *, organization_id: str, user_id: str) -> Access | None:
        async with self.db.session() as session:
            return await access_of(session, organization_id=organization_id, user_id=user_id)

    async def all(self, *, organization_id: str) -> list[Member]:
        async with self.db.session() as session:
            rows = await session.execute(
                select(User, Membership)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.organization_id == organization_id)
                .order_by(Membership.created_at, User.id)
            )
            projects = await _projects_by_user(session, organization_id)
        return [
            Member(
                user=user,
                role=m.role,
                joined_at=m.created_at,
                project_ids=projects.get(user.id, []),
            )
            for user, m in rows.all()
        ]

    async def change_role(
        self, *, organization_id: str, user_id: str, role: str, actor: Actor, by: Access
    ) -> Member:
        role = clean_role(role)
        async with self.db.session() as session, session.begin():
            membership = await _membership(session, organization_id, user_id)
            _may_manage(by, membership.role, role)
            if membership.role is Role.OWNER and role is not Role.OWNER:
                await _keep_an_owner(session, organization_id)
            if membership.role != role:
                old, membership.role = membership.role, role
                record(
                    session,
                    organization_id=organization_id,
                    type="member.role_changed",
                    actor=actor,
                    target_type="user",
                    target_id=user_id,
                    data={"from": old.value, "to": role.value},
                )
        return await self._member(organization_id, user_id)

    async def set_projects(
        self,
        *,
        organization_id: str,
        user_id: str,
        project_ids: list[str],
        actor: Actor,
        by: Access,
    ) -> Member:
        """Replace the projects a member belongs to."""
        async with self.db.session() as session, session.begin():
            membership = await _membership(session, organization_id, user_id)
            _may_manage(by, membership.role, membership.role)
            wanted = await known_projects(session, organization_id, project_ids)
            current = set((await _projects_by_user(session, organization_id)).get(user_id, []))
            for project_id in wanted - current:
                session.add(
                    ProjectMember(project_id=project_id, user_id=user_id, created_at=self.clock())
                )
            if current - wanted:
                await session.execute(
                    delete(ProjectMember).where(
                        ProjectMember.user_id == user_id,
                        ProjectMember.project_id.in_(current - wanted),
                    )
                )
            if wanted != current:
                record(
                    session,
                    organization_id=organization_id,
                    type="member.projects_changed",
                    actor=actor,
                    target_type="user",
                    target_id=user_id,
                    data={"added": sorted(wanted - current), "removed": sorted(current - wanted)},
                )
        return await self._member(organization_id, user_id)

    async def remove(self, *, organization_id: str, user_id: str, actor: Actor, by: Access) -> None:
        """Remove someone from the organisation; their sessions end at once."""
        if user_id == by.user_id:
            raise ConflictError("You cannot remove yourself; ask another owner or admin.")
        async with self.db.session() as session, session.begin():
            membership = await _membership(session, organization_id, user_id)
            _may_manage(by, membership.role, membership.role)
            if membership.role is Role.OWNER:
                await _keep_an_owner(session, organization_id)
            user = await session.get(User, user_id)
            await session.delete(membership)
            await session.execute(delete(ProjectMember).where(ProjectMember.user_id == user_id))
            await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
            record(
                session,
                organization_id=organization_id,
                type="member.removed",
                actor=actor,
                target_type="user",
                target_id=user_id,
                data={"email": user.email if user else None, "role": membership.role.value},
            )

    async def _member(self, organization_id: str, user_id: str) -> Member:
        for member in await self.all(organization_id=organization_id):
            if member.user.id == user_id:
                return member
        raise NotFoundError(f"No member with id '{user_id}'.", param="user_id")


async def access_of(session: AsyncSession, *, organization_id: str, user_id: str) -> Access | None:
    """The access of a user in an organisation; None when they are not in it."""
    membership = (
        await session.execute(
            select(Membership).where(
                Membership.organization_id == organization_id, Membership.user_id == user_id
            )
        )
    ).scalar()
    if membership is None:
        return None
    projects = await session.execute(
        select(ProjectMember.project_id).where(ProjectMember.user_id == user_id)
    )
    return Access(
        user_id=user_id,
        organization_id=organization_id,
        role=membership.role,
        project_ids=frozenset(projects.scalars()),
    )


def clean_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationFailedError(
            f"role must be one of {', '.join(ROLES)}.", param="role"
        ) from None


def may_grant(by: Access, role: Role) -> None:
    """Owners grant any role; admins grant any but owner."""
    by.require_manager()
    if role is Role.OWNER and by.role is not Role.OWNER:
        raise PermissionDeniedError("Only an owner can make someone an owner.")


def _may_manage(by: Access, current_role: Role, new_role: Role) -> None:
    may_grant(by, new_role)
    if current_role is Role.OWNER and by.role is not Role.OWNER:
        raise PermissionDeniedError("Only an owner can change an owner.")


async def _membership(session: AsyncSession, organization_id: str, user_id: str) -> Membership:
    membership = (
        await session.execute(
            select(Membership).where(
                Membership.organization_id == organization_id, Membership.user_id == user_id
            )
        )
    ).scalar()
    if membership is None:
        raise NotFoundError(f"No member with id '{user_id}'.", param="user_id")
    return membership


async def _keep_an_owner(session: AsyncSession, organization_id: str) -> None:
    owners = select(func.count()).where(
        Membership.organization_id == organization_id, Membership.role == Role.OWNER
    )
    if (await session.execute(owners)).scalar_one() <= 1:
        raise ConflictError("This is the last owner; make someone else an owner first.")


async def _projects_by_user(session: AsyncSession, organization_id: str) -> dict[str, list[str]]:
    rows = await session.execute(
        select(ProjectMember.user_id, ProjectMember.project_id)
        .join(Project, Project.id == ProjectMember.project_id)
        .where(Project.organization_id == organization_id)
        .order_by(ProjectMember.created_at)
    )
    found: dict[str, list[str]] = {}
    for user_id, project_id in rows.all():
        found.setdefault(user_id, []).append(project_id)
    return found


async def known_projects(
    session: AsyncSession, organization_id: str, project_ids: list[str]
) -> set[str]:
    """The given ids, after checking each names a project of the organisation."""
    wanted = set(project_ids)
    if not wanted:
        return set()
    found = await session.execute(
        select(Project.id).where(Project.organization_id == organization_id, Project.id.in_(wanted))
    )
    known = set(found.scalars())
    if known != wanted:
        raise ValidationFailedError("Choose projects from the list.", param="project_ids")
    return known
