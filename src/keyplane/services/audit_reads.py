"""What the dashboard's audit log reads beside the events: one event, the types that
occur, and the names of the ids that events mention. Read-only."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from keyplane.errors import NotFoundError
from keyplane.store.database import Database
from keyplane.store.models import ApiKey, AuditEvent, Membership, Project, User


class AuditReader:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def event(self, *, organization_id: str, event_id: str) -> AuditEvent:
        query = select(AuditEvent).where(
            AuditEvent.organization_id == organization_id, AuditEvent.id == event_id
        )
        async with self.db.session() as session:
            event = (await session.execute(query)).scalar_one_or_none()
        if event is None:
            raise NotFoundError(f"No audit event with id '{event_id}'.", param="event_id")
        return event

    async def types(self, *, organization_id: str) -> list[str]:
        """Every event type this organisation's log holds, so the filter offers each one."""
        query = (
            select(AuditEvent.type).where(AuditEvent.organization_id == organization_id).distinct()
        )
        async with self.db.session() as session:
            return sorted(str(t) for t in (await session.execute(query)).scalars())

    async def names(self, *, organization_id: str, ids: Iterable[str]) -> dict[str, str]:
        """Display names of projects, keys and people among ``ids``; unknown ids are left out."""
        wanted = {i for i in ids if i}
        if not wanted:
            return {}
        names: dict[str, str] = {}
        async with self.db.session() as session:
            projects = select(Project.id, Project.name).where(
                Project.organization_id == organization_id, Project.id.in_(wanted)
            )
            for id_, name in await session.execute(projects):
                names[id_] = name
            keys = select(ApiKey.id, ApiKey.name, ApiKey.redacted_value).where(
                ApiKey.organization_id == organization_id, ApiKey.id.in_(wanted)
            )
            for id_, name, redacted in await session.execute(keys):
                names[id_] = f"{name} ({redacted})"
            people = (
                select(User.id, User.name, User.email)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.organization_id == organization_id, User.id.in_(wanted))
            )
            for id_, name, email in await session.execute(people):
                names[id_] = name or email
        return names
