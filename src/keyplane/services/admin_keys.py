"""Admin keys: organisation-wide keys for the admin API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.clock import Clock, system_clock
from keyplane.errors import ConflictError, NotFoundError
from keyplane.keys import policy
from keyplane.keys.format import KeyKind
from keyplane.services.api_keys import IssuedKey, revoke_in
from keyplane.services.issuing import add_secret
from keyplane.store.database import Database
from keyplane.store.models import ApiKey
from keyplane.store.pagination import Page, paginate
from keyplane.values.kinds import OwnerType


class AdminKeyService:
    def __init__(self, database: Database, *, brand: str, clock: Clock = system_clock) -> None:
        self.db = database
        self.brand = brand
        self.clock = clock

    async def create(
        self,
        *,
        organization_id: str,
        name: str,
        actor: Actor,
        expires_at: datetime | None = None,
        now: datetime | None = None,
    ) -> IssuedKey:
        """A new admin key, made ``now`` (the instant ``expires_at`` was counted from, if it
        was); past ``expires_at`` it is refused like any expired key."""
        now = now or self.clock()
        expires_at = policy.clean_expiry(expires_at, now=now)
        async with self.db.session() as session, session.begin():
            return await issue_admin_key(
                session,
                organization_id=organization_id,
                name=name,
                actor=actor,
                brand=self.brand,
                now=now,
                expires_at=expires_at,
            )

    async def list(
        self,
        *,
        organization_id: str,
        limit: int = 20,
        after: str | None = None,
        newest_first: bool = False,
    ) -> Page[ApiKey]:
        async with self.db.session() as session:
            query = _admin_keys(organization_id).where(ApiKey.revoked_at.is_(None))
            return await paginate(
                session, query, ApiKey, limit=limit, after=after, newest_first=newest_first
            )

    async def get(self, *, organization_id: str, key_id: str) -> ApiKey:
        async with self.db.session() as session:
            return await _get(session, organization_id, key_id)

    async def revoke(self, *, organization_id: str, key_id: str, actor: Actor) -> ApiKey:
        """Revoke; refuses to revoke the last live admin key, which would lock everyone out."""
        async with self.db.session() as session, session.begin():
            key = await _get(session, organization_id, key_id)
            if key.revoked_at is None:
                unexpired = or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > self.clock())
                live = select(func.count()).select_from(
                    _admin_keys(organization_id)
                    .where(ApiKey.revoked_at.is_(None), unexpired)
                    .subquery()
                )
                if (await session.execute(live)).scalar_one() <= 1:
                    raise ConflictError(
                        "This is the last admin key; create another before revoking it."
                    )
            revoke_in(session, key, actor=actor, now=self.clock(), reason="revoked")
        return key


async def issue_admin_key(
    session: AsyncSession,
    *,
    organization_id: str,
    name: str,
    actor: Actor,
    brand: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> IssuedKey:
    """Create an admin key in the caller's transaction, made ``now``."""
    key = ApiKey(
        organization_id=organization_id,
        project_id=None,
        kind=KeyKind.ADMIN,
        name=policy.clean_name(name),
        owner_type=OwnerType(actor.type),
        owner_id=actor.id,
        created_by=actor.id,
        created_at=now,
        expires_at=expires_at,
        redacted_value="",
    )
    session.add(key)
    await session.flush()
    _, plaintext = add_secret(session, key, brand=brand, now=now)
    record(
        session,
        organization_id=organization_id,
        type="admin_api_key.created",
        actor=actor,
        target_type="api_key",
        target_id=key.id,
        data={
            "name": key.name,
            "redacted_value": key.redacted_value,
            "expires_at": None if expires_at is None else int(expires_at.timestamp()),
        },
    )
    return IssuedKey(key=key, plaintext=plaintext)


def _admin_keys(organization_id: str):  # type: ignore[no-untyped-def]
    return select(ApiKey).where(
        ApiKey.organization_id == organization_id, ApiKey.kind == KeyKind.ADMIN
    )


async def _get(session: AsyncSession, organization_id: str, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None or key.organization_id != organization_id or key.kind is not KeyKind.ADMIN:
        raise NotFoundError(f"No admin key with id '{key_id}'.", param="key_id")
    return key
