"""Who owns a key, in enough detail for OpenAI's ``owner`` objects, loaded in one pass.

An owner is a person (``user``), a service account, an admin key (keys an admin key made
through the API) or the server itself (``system``: bootstrap, ``keyplane init``). Whether the
owner still has access to the key's project is OpenAI's ``owner_project_access``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.store.database import Database
from keyplane.store.models import ApiKey, Membership, ProjectMember, ServiceAccount, User
from keyplane.values.kinds import OwnerType, Role


@dataclass(frozen=True, slots=True)
class Person:
    user: User
    role: Role | None  # None once they left the organisation
    project_ids: frozenset[str]

    def sees(self, project_id: str | None) -> bool:
        if self.role is None:
            return False
        return self.role is not Role.MEMBER or project_id in self.project_ids


@dataclass(frozen=True, slots=True)
class Owners:
    """The owners of a batch of keys, by id."""

    people: dict[str, Person]
    accounts: dict[str, ServiceAccount]
    admin_keys: dict[str, ApiKey]

    def has_access(self, key: ApiKey) -> bool:
        """OpenAI's ``owner_project_access``: does the owner still reach the key's project?"""
        owner_id = key.owner_id
        if key.owner_type is OwnerType.USER:
            person = self.people.get(owner_id or "")
            return person is not None and person.sees(key.project_id)
        if key.owner_type is OwnerType.SERVICE_ACCOUNT:
            if owner_id is None:  # a service-account key made before accounts were rows
                return True
            account = self.accounts.get(owner_id)
            return account is not None and account.deleted_at is None
        if key.owner_type is OwnerType.ADMIN_KEY:
            admin = self.admin_keys.get(owner_id or "")
            return admin is not None and admin.revoked_at is None
        return True  # the server's own keys


async def owners_of(database: Database, keys: Iterable[ApiKey]) -> Owners:
    keys = list(keys)
    wanted = {
        kind: {k.owner_id for k in keys if k.owner_type is kind and k.owner_id}
        for kind in OwnerType
    }
    async with database.session() as session:
        return Owners(
            people=await _people(session, keys, wanted[OwnerType.USER]),
            accounts=await _by_id(session, ServiceAccount, wanted[OwnerType.SERVICE_ACCOUNT]),
            admin_keys=await _by_id(session, ApiKey, wanted[OwnerType.ADMIN_KEY]),
        )


async def _people(
    session: AsyncSession, keys: list[ApiKey], user_ids: set[str]
) -> dict[str, Person]:
    if not user_ids:
        return {}
    organization_ids = {k.organization_id for k in keys}
    users = await _by_id(session, User, user_ids)
    roles = {
        m.user_id: m.role
        for m in (
            await session.execute(
                select(Membership).where(
                    Membership.user_id.in_(user_ids),
                    Membership.organization_id.in_(organization_ids),
                )
            )
        ).scalars()
    }
    projects: dict[str, set[str]] = {}
    for pm in (
        await session.execute(select(ProjectMember).where(ProjectMember.user_id.in_(user_ids)))
    ).scalars():
        projects.setdefault(pm.user_id, set()).add(pm.project_id)
    return {
        user_id: Person(user, roles.get(user_id), frozenset(projects.get(user_id, ())))
        for user_id, user in users.items()
    }


Row = TypeVar("Row", User, ServiceAccount, ApiKey)


async def _by_id(session: AsyncSession, model: type[Row], ids: set[str]) -> dict[str, Row]:
    if not ids:
        return {}
    rows = await session.execute(select(model).where(model.id.in_(ids)))
    return {row.id: row for row in rows.scalars()}
