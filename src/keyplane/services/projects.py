"""Projects: the unit keys, limits and usage belong to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.clock import Clock, system_clock
from keyplane.errors import NotFoundError
from keyplane.keys import policy
from keyplane.limits.policy import Budget, RateLimits
from keyplane.store.database import Database
from keyplane.store.models import Project
from keyplane.store.pagination import Page, paginate
from keyplane.values.kinds import ProjectStatus

UNCHANGED = object()


class ProjectService:
    def __init__(self, database: Database, *, clock: Clock = system_clock) -> None:
        self.db = database
        self.clock = clock

    async def list(
        self,
        *,
        organization_id: str,
        limit: int = 20,
        after: str | None = None,
        include_archived: bool = False,
    ) -> Page[Project]:
        async with self.db.session() as session:
            query = select(Project).where(Project.organization_id == organization_id)
            if not include_archived:
                query = query.where(Project.status == ProjectStatus.ACTIVE)
            return await paginate(session, query, Project, limit=limit, after=after)

    async def create(self, *, organization_id: str, name: str, actor: Actor) -> Project:
        name = policy.clean_name(name)
        async with self.db.session() as session, session.begin():
            project = Project(organization_id=organization_id, name=name, created_at=self.clock())
            session.add(project)
            await session.flush()
            record(
                session,
                organization_id=organization_id,
                type="project.created",
                actor=actor,
                target_type="project",
                target_id=project.id,
                data={"name": name},
            )
        return project

    async def get(self, *, organization_id: str, project_id: str) -> Project:
        async with self.db.session() as session:
            return await get_project(
                session, organization_id=organization_id, project_id=project_id
            )

    async def rename(
        self, *, organization_id: str, project_id: str, name: str, actor: Actor
    ) -> Project:
        name = policy.clean_name(name)
        async with self.db.session() as session, session.begin():
            project = await get_project(
                session, organization_id=organization_id, project_id=project_id
            )
            if project.name != name:
                old, project.name = project.name, name
                record(
                    session,
                    organization_id=organization_id,
                    type="project.updated",
                    actor=actor,
                    target_type="project",
                    target_id=project.id,
                    data={"changes": {"name": {"from": old, "to": name}}},
                )
        return project

    async def set_limits(
        self,
        *,
        organization_id: str,
        project_id: str,
        rate_limits: RateLimits | object | None = UNCHANGED,
        budget: Budget | object | None = UNCHANGED,
        actor: Actor,
    ) -> Project:
        """Set or clear (``None``) a project's rate limits and budget; ``UNCHANGED`` keeps them."""
        wanted: dict[str, RateLimits | Budget | None] = {}
        if rate_limits is not UNCHANGED:
            wanted["rate_limits"] = rate_limits if isinstance(rate_limits, RateLimits) else None
        if budget is not UNCHANGED:
            wanted["budget"] = budget if isinstance(budget, Budget) else None
        async with self.db.session() as session, session.begin():
            project = await get_project(
                session, organization_id=organization_id, project_id=project_id
            )
            changed = {k: v for k, v in wanted.items() if getattr(project, k) != v}
            for name, value in changed.items():
                setattr(project, name, value)
            if changed:
                record(
                    session,
                    organization_id=organization_id,
                    type="project.updated",
                    actor=actor,
                    target_type="project",
                    target_id=project.id,
                    data={"changes": _json(changed)},
                )
        return project

    async def archive(self, *, organization_id: str, project_id: str, actor: Actor) -> Project:
        """Archive: its keys stop working at once. Archiving twice changes nothing."""
        async with self.db.session() as session, session.begin():
            project = await get_project(
                session, organization_id=organization_id, project_id=project_id
            )
            if project.status is not ProjectStatus.ARCHIVED:
                project.status = ProjectStatus.ARCHIVED
                project.archived_at = self.clock()
                record(
                    session,
                    organization_id=organization_id,
                    type="project.archived",
                    actor=actor,
                    target_type="project",
                    target_id=project.id,
                    data={"name": project.name},
                )
        return project


async def get_project(session: AsyncSession, *, organization_id: str, project_id: str) -> Project:
    project = await session.get(Project, project_id)
    if project is None or project.organization_id != organization_id:
        raise NotFoundError(f"No project with id '{project_id}'.", param="project_id")
    return project


def _json(changed: dict[str, RateLimits | Budget | None]) -> dict[str, object]:
    """Changed limits as the audit log keeps them: their stored JSON, or null when cleared."""
    return {name: None if value is None else value.to_json() for name, value in changed.items()}
