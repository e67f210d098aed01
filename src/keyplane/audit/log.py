"""Write and read audit events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.store.database import Database
from keyplane.store.models import AuditEvent
from keyplane.store.pagination import Page, paginate


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
    event = AuditEvent(
        organization_id=organization_id,
        type=type,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        target_type=target_type,
        target_id=target_id,
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
    ) -> Page[AuditEvent]:
        query = select(AuditEvent).where(AuditEvent.organization_id == organization_id)
        if types:
            query = query.where(AuditEvent.type.in_(types))
        if actor_ids:
            query = query.where(AuditEvent.actor_id.in_(actor_ids))
        if target_id:
            query = query.where(AuditEvent.target_id == target_id)
        if start:
            query = query.where(AuditEvent.created_at >= start)
        if end:
            query = query.where(AuditEvent.created_at < end)
        async with self.db.session() as session:
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
