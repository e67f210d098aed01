"""Write and read audit events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.audit.openai import stored_types
from keyplane.store.database import Database
from keyplane.store.models import ApiKey, AuditEvent, User
from keyplane.store.pagination import Page, paginate
from keyplane.values.kinds import OwnerType


def record(
    session: AsyncSession,
    *,
    organization_id: str,
    type: str,
    actor: Actor,
    target_type: str | None = None,
    target_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an event to the caller's transaction, so it commits with the change it records."""
    project_id = (data or {}).get("project_id")
    if project_id is None and target_type == "project":
        project_id = target_id
    event = AuditEvent(
        organization_id=organization_id,
        type=type,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        target_type=target_type,
        target_id=target_id,
        project_id=project_id if isinstance(project_id, str) else None,
        ip_address=actor.ip_address,
        user_agent=(actor.user_agent or "")[:300] or None,
        data=data or {},
    )
    session.add(event)
    return event


class AuditLog:
    """The audit log as the surfaces read it; writes go through ``record`` in a transaction."""

    def __init__(self, database: Database) -> None:
        self.db = database

    async def events(
        self,
        *,
        organization_id: str,
        types: list[str] | None = None,
        actor_ids: list[str] | None = None,
        target_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 20,
        after: str | None = None,
        before: str | None = None,
        filters: EventFilter | None = None,
    ) -> Page[AuditEvent]:
        """Newest first. ``types`` are stored names or OpenAI's (which take in every keyplane
        name mapped onto them); ``start`` is inclusive, ``end`` exclusive."""
        query = select(AuditEvent).where(AuditEvent.organization_id == organization_id)
        if types:
            query = query.where(AuditEvent.type.in_(stored_types(types)))
        if actor_ids:
            query = query.where(AuditEvent.actor_id.in_(actor_ids))
        if target_id:
            query = query.where(AuditEvent.target_id == target_id)
        if start:
            query = query.where(AuditEvent.created_at >= start)
        if end:
            query = query.where(AuditEvent.created_at < end)
        async with self.db.session() as session:
            if filters is not None:
                query = await filters.apply(session, query, organization_id)
            # Newest first, as people read an audit log.
            return await paginate(
                session,
                query,
                AuditEvent,
                limit=limit,
                after=after,
                before=before,
                newest_first=True,
            )

    async def prune(self, *, before: datetime, batch_rows: int = 2000) -> int:
        """Delete up to ``batch_rows`` of the events recorded before ``before``; how many.

        For ``KEYPLANE_AUDIT_RETENTION_DAYS``: the caller repeats until none is left, one short
        transaction at a time.
        """
        chosen = select(AuditEvent.id).where(AuditEvent.created_at < before).limit(batch_rows)
        async with self.db.session() as session, session.begin():
            result = await session.execute(
                delete(AuditEvent)
                .where(AuditEvent.id.in_(chosen.scalar_subquery()))
                .returning(AuditEvent.id)
            )
            return len(result.all())


@dataclass(frozen=True)
class EventFilter:
    """OpenAI's further filters: projects, resources, actors' emails, and strict bounds."""

    project_ids: list[str] = field(default_factory=list)
    resource_ids: list[str] = field(default_factory=list)
    actor_emails: list[str] = field(default_factory=list)
    after_time: datetime | None = None  # effective_at[gt]
    until_time: datetime | None = None  # effective_at[lte]

    async def apply(
        self, session: AsyncSession, query: Select[AuditEvent], organization_id: str
    ) -> Select[AuditEvent]:
        if self.project_ids:
            query = query.where(AuditEvent.project_id.in_(self.project_ids))
        if self.resource_ids:
            query = query.where(AuditEvent.target_id.in_(self.resource_ids))
        if self.after_time is not None:
            query = query.where(AuditEvent.created_at > self.after_time)
        if self.until_time is not None:
            query = query.where(AuditEvent.created_at <= self.until_time)
        if self.actor_emails:
            actors = await _actors_with_emails(session, organization_id, self.actor_emails)
            query = query.where(
                or_(
                    AuditEvent.actor_id.in_(actors),
                    AuditEvent.actor_label.in_([e.lower() for e in self.actor_emails]),
                )
            )
        return query


async def _actors_with_emails(
    session: AsyncSession, organization_id: str, emails: list[str]
) -> set[str]:
    """The users with these emails, and the admin keys they own."""
    lowered = [email.strip().lower() for email in emails]
    users = set(
        (await session.execute(select(User.id).where(func.lower(User.email).in_(lowered))))
        .scalars()
        .all()
    )
    if not users:
        return set()
    keys = await session.execute(
        select(ApiKey.id).where(
            ApiKey.organization_id == organization_id,
            ApiKey.owner_type == OwnerType.USER,
            ApiKey.owner_id.in_(users),
        )
    )
    return users | set(keys.scalars())
