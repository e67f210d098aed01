"""``/v1/organization/projects``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from keyplane.api.deps import AdminPrincipal
from keyplane.api.schemas import (
    BudgetIn,
    ListOut,
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
    RateLimitsIn,
)
from keyplane.api.unsupported import refuse_set
from keyplane.runtime.deps import ProjectsDep
from keyplane.services.projects import UNCHANGED

router = APIRouter(prefix="/v1/organization/projects", tags=["projects"])

Limit = Annotated[int, Query(ge=1, le=100)]


@router.get("")
async def list_projects(
    principal: AdminPrincipal,
    projects: ProjectsDep,
    limit: Limit = 20,
    after: str | None = None,
    include_archived: bool = False,
) -> ListOut[ProjectOut]:
    page = await projects.list(
        organization_id=principal.organization_id,
        limit=limit,
        after=after,
        include_archived=include_archived,
    )
    return ListOut.of(page, [ProjectOut.of(p) for p in page.items])


@router.post("")
async def create_project(
    body: ProjectCreate, principal: AdminPrincipal, projects: ProjectsDep
) -> ProjectOut:
    """Create a project: 200, as OpenAI answers (keyplane answered 201 before)."""
    refuse_set(
        residency=body.residency, external_key_id=body.external_key_id, geography=body.geography
    )
    project = await projects.create(
        organization_id=principal.organization_id, name=body.name, actor=principal.actor
    )
    if body.rate_limits is not None or body.budget is not None:
        project = await projects.set_limits(
            organization_id=principal.organization_id,
            project_id=project.id,
            rate_limits=body.rate_limits.to_domain() if body.rate_limits else None,
            budget=body.budget.to_domain() if body.budget else None,
            actor=principal.actor,
        )
    return ProjectOut.of(project)


@router.get("/{project_id}")
async def get_project(
    project_id: str, principal: AdminPrincipal, projects: ProjectsDep
) -> ProjectOut:
    project = await projects.get(organization_id=principal.organization_id, project_id=project_id)
    return ProjectOut.of(project)


@router.post("/{project_id}")
async def update_project(
    project_id: str, body: ProjectUpdate, principal: AdminPrincipal, projects: ProjectsDep
) -> ProjectOut:
    refuse_set(external_key_id=body.external_key_id, geography=body.geography)
    given = body.model_fields_set
    project = await projects.get(organization_id=principal.organization_id, project_id=project_id)
    if body.name is not None:
        project = await projects.rename(
            organization_id=principal.organization_id,
            project_id=project_id,
            name=body.name,
            actor=principal.actor,
        )
    if "rate_limits" in given or "budget" in given:
        project = await projects.set_limits(
            organization_id=principal.organization_id,
            project_id=project_id,
            rate_limits=_given(body.rate_limits, "rate_limits" in given),
            budget=_given(body.budget, "budget" in given),
            actor=principal.actor,
        )
    return ProjectOut.of(project)


def _given(value: RateLimitsIn | BudgetIn | None, given: bool) -> object:
    if not given:
        return UNCHANGED
    return None if value is None else value.to_domain()


@router.post("/{project_id}/archive")
async def archive_project(
    project_id: str, principal: AdminPrincipal, projects: ProjectsDep
) -> ProjectOut:
    project = await projects.archive(
        organization_id=principal.organization_id, project_id=project_id, actor=principal.actor
    )
    return ProjectOut.of(project)
