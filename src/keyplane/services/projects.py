"""Projects: the unit keys, limits and usage belong to."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.clock import Clock, system_clock
from keyplane.errors import ConflictError, NotFoundError
from keyplane.keys import policy
from keyplane.limits.policy import Budget, RateLimits
from keyplane.store.database import Database
from keyplane.store.models import Organization, Project
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
            await _claim_name(session, organization_id=organization_id, name=name)
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
                if project.status is ProjectStatus.ACTIVE:
                    await _claim_name(
                        session, organization_id=organization_id, name=name, keep=project.id
                    )
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


async def _claim_name(
    session: AsyncSession, *, organization_id: str, name: str, keep: str | None = None
) -> None:
    """Refuse ``name`` if another active project of the organisation has it (409).

    Names are compared case-insensitively: ``--project Search`` must find one project, and
    "Search" beside "search" reads as the same one to people. The check is race-safe without a
    unique index: the no-op UPDATE of the organisation's row first takes that row's lock on
    PostgreSQL and SQLite's database write lock, held until commit, so two creates of the same
    name in parallel run one after the other and the second sees the first.
    """
    await session.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(name=Organization.name)  # not the key: no foreign-key checks on children
        .execution_options(synchronize_session=False)
    )
    wanted = name.casefold()
    rows = await session.execute(
        select(Project.id, Project.name).where(
            Project.organization_id == organization_id, Project.status == ProjectStatus.ACTIVE
        )
    )
    for project_id, taken in rows:
        if project_id != keep and taken.casefold() == wanted:
            raise ConflictError(
                f"An active project is already named '{taken}' ({project_id}); "
                "project names must be unique. Pick another name, or archive that project first.",
                param="name",
                code="project_name_taken",
            )


async def get_project(session: AsyncSession, *, organization_id: str, project_id: str) -> Project:
    project = await session.get(Project, project_id)
    if project is None or project.organization_id != organization_id:
        raise NotFoundError(f"No project with id '{project_id}'.", param="project_id")
    return project


def _json(changed: dict[str, RateLimits | Budget | None]) -> dict[str, object]:
    """Changed limits as the audit log keeps them: their stored JSON, or null when cleared."""
    return {name: None if value is None else value.to_json() for name, value in changed.items()}
