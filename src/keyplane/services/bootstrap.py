"""First run: a default organisation, "Default project" and the first admin key."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from keyplane.audit.actor import SYSTEM
from keyplane.audit.log import record
from keyplane.clock import Clock, system_clock
from keyplane.services.admin_keys import issue_admin_key
from keyplane.store.database import Database
from keyplane.store.models import Instance, Organization, Project

SINGLETON = 1


@dataclass(frozen=True)
class Bootstrap:
    organization_id: str
    project_id: str | None
    admin_key: str | None = field(default=None, repr=False)

    @property
    def first_run(self) -> bool:
        return self.admin_key is not None


async def bootstrap(database: Database, *, brand: str, clock: Clock = system_clock) -> Bootstrap:
    """Create the defaults once. Only the call that creates them gets the admin key back."""
    existing = await current_instance(database)
    if existing is not None:
        return existing
    try:
        async with database.session() as session, session.begin():
            now = clock()
            organization = Organization(name="Default organization", created_at=now)
            session.add(organization)
            await session.flush()
            session.add(Instance(id=SINGLETON, organization_id=organization.id, created_at=now))
            await session.flush()  # a concurrent first run fails here, before doing more
            project = Project(
                organization_id=organization.id, name="Default project", created_at=now
            )
            session.add(project)
            await session.flush()
            instance = await session.get(Instance, SINGLETON)
            assert instance is not None
            instance.default_project_id = project.id
            record(
                session,
                organization_id=organization.id,
                type="project.created",
                actor=SYSTEM,
                target_type="project",
                target_id=project.id,
                data={"name": project.name},
            )
            issued = await issue_admin_key(
                session,
                organization_id=organization.id,
                name="Bootstrap admin key",
                actor=SYSTEM,
                brand=brand,
                now=now,
            )
    except IntegrityError:
        again = await current_instance(database)
        if again is None:
            raise
        return again
    return Bootstrap(organization.id, project.id, issued.plaintext)


async def current_instance(database: Database) -> Bootstrap | None:
    async with database.session() as session:
        instance = (await session.execute(select(Instance))).scalar_one_or_none()
    if instance is None:
        return None
    return Bootstrap(instance.organization_id, instance.default_project_id)
