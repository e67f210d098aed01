"""Service accounts: a project's non-human members, and the keys they own.

A service account is a row of its own; its keys are ordinary ``svc`` keys (``ApiKey``) whose
``owner_id`` is the account, so limits, budgets, rotation and revocation work on them as on
every key. Deleting an account revokes its keys at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.clock import Clock, system_clock
from keyplane.errors import NotFoundError, ValidationFailedError
from keyplane.keys import policy
from keyplane.keys.format import KeyKind
from keyplane.services.api_keys import IssuedKey, KeySpec, issue_project_key, revoke_in
from keyplane.services.projects import get_project
from keyplane.store.database import Database
from keyplane.store.models import ApiKey, ServiceAccount
from keyplane.store.pagination import Page, paginate
from keyplane.values.kinds import OwnerType

ROLES = ("member", "owner")


@dataclass(frozen=True)
class CreatedServiceAccount:
    """A new account and, unless asked not to, its first key with the plaintext shown once."""

    account: ServiceAccount
    key: IssuedKey | None


class ServiceAccountService:
    def __init__(self, database: Database, *, brand: str, clock: Clock = system_clock) -> None:
        self.db = database
        self.brand = brand
        self.clock = clock

    async def create(
        self,
        *,
        organization_id: str,
        project_id: str,
        name: str,
        actor: Actor,
        with_key: bool = True,
        key_expires_at: datetime | None = None,
        now: datetime | None = None,
    ) -> CreatedServiceAccount:
        """The account, made ``now`` (the instant ``key_expires_at`` was counted from, if it
        was), and its first key unless not ``with_key``."""
        now = now or self.clock()
        async with self.db.session() as session, session.begin():
            project = await get_project(
                session, organization_id=organization_id, project_id=project_id
            )
            account = ServiceAccount(
                organization_id=organization_id,
                project_id=project.id,
                name=policy.clean_name(name),
                role="member",
                created_at=now,
            )
            session.add(account)
            await session.flush()
            record(
                session,
                organization_id=organization_id,
                type="service_account.created",
                actor=actor,
                target_type="service_account",
                target_id=account.id,
                data={"project_id": project.id, "name": account.name, "role": account.role},
            )
            issued = None
            if with_key:
                spec = KeySpec(name=account.name, expires_at=key_expires_at)
                issued = await self._issue(session, account, spec, actor=actor, now=now)
        return CreatedServiceAccount(account=account, key=issued)

    async def add_key(
        self,
        *,
        organization_id: str,
        project_id: str,
        service_account_id: str,
        spec: KeySpec,
        actor: Actor,
        now: datetime | None = None,
    ) -> IssuedKey:
        now = now or self.clock()
        async with self.db.session() as session, session.begin():
            account = await _live(session, organization_id, project_id, service_account_id)
            return await self._issue(session, account, spec, actor=actor, now=now)

    async def _issue(
        self,
        session: AsyncSession,
        account: ServiceAccount,
        spec: KeySpec,
        *,
        actor: Actor,
        now: datetime,
    ) -> IssuedKey:
        project = await get_project(
            session, organization_id=account.organization_id, project_id=account.project_id
        )
        owned = replace(spec, kind=KeyKind.SERVICE_ACCOUNT, owner_id=account.id)
        return await issue_project_key(
            session, project=project, spec=owned, actor=actor, brand=self.brand, now=now
        )

    async def list(
        self,
        *,
        organization_id: str,
        project_id: str,
        limit: int = 20,
        after: str | None = None,
    ) -> Page[ServiceAccount]:
        async with self.db.session() as session:
            await get_project(session, organization_id=organization_id, project_id=project_id)
            query = select(ServiceAccount).where(
                ServiceAccount.project_id == project_id, ServiceAccount.deleted_at.is_(None)
            )
            return await paginate(session, query, ServiceAccount, limit=limit, after=after)

    async def get(
        self, *, organization_id: str, project_id: str, service_account_id: str
    ) -> ServiceAccount:
        async with self.db.session() as session:
            return await _live(session, organization_id, project_id, service_account_id)

    async def update(
        self,
        *,
        organization_id: str,
        project_id: str,
        service_account_id: str,
        name: str | None,
        role: str | None,
        actor: Actor,
    ) -> ServiceAccount:
        if role is not None and role not in ROLES:
            raise ValidationFailedError("role must be member or owner.", param="role")
        async with self.db.session() as session, session.begin():
            account = await _live(session, organization_id, project_id, service_account_id)
            changes: dict[str, str] = {}
            if name is not None and policy.clean_name(name) != account.name:
                changes["name"] = account.name = policy.clean_name(name)
            if role is not None and role != account.role:
                changes["role"] = account.role = role
            if changes:
                record(
                    session,
                    organization_id=organization_id,
                    type="service_account.updated",
                    actor=actor,
                    target_type="service_account",
                    target_id=account.id,
                    data={"project_id": project_id, "changes_requested": changes},
                )
        return account

    async def delete(
        self, *, organization_id: str, project_id: str, service_account_id: str, actor: Actor
    ) -> ServiceAccount:
        """Delete the account and revoke every key it owns, in one transaction."""
        now = self.clock()
        async with self.db.session() as session, session.begin():
            account = await _live(session, organization_id, project_id, service_account_id)
            account.deleted_at = now
            for key in await keys_of(session, account.id):
                revoke_in(session, key, actor=actor, now=now, reason="service_account_deleted")
            record(
                session,
                organization_id=organization_id,
                type="service_account.deleted",
                actor=actor,
                target_type="service_account",
                target_id=account.id,
                data={"project_id": project_id, "name": account.name},
            )
        return account


async def keys_of(session: AsyncSession, service_account_id: str) -> list[ApiKey]:
    rows = await session.execute(
        select(ApiKey).where(
            ApiKey.owner_type == OwnerType.SERVICE_ACCOUNT,
            ApiKey.owner_id == service_account_id,
            ApiKey.revoked_at.is_(None),
        )
    )
    return list(rows.scalars())


async def _live(
    session: AsyncSession, organization_id: str, project_id: str, service_account_id: str
) -> ServiceAccount:
    account = await session.get(ServiceAccount, service_account_id)
    if (
        account is None
        or account.organization_id != organization_id
        or account.project_id != project_id
        or account.deleted_at is not None
    ):
        await get_project(session, organization_id=organization_id, project_id=project_id)
        raise NotFoundError(
            f"No service account with id '{service_account_id}' in project '{project_id}'.",
            param="service_account_id",
        )
    return account
