"""``projects/{id}/rate_limits`` (per-model limits) and ``projects/{id}/model_permissions``.

A rate limit's id is ``rl-<model>``. keyplane keeps a limit only for the models a project
limits: updating ``rl-<any model>`` sets one, and ``0`` (or null) on a field means no limit
on it, as an unlimited field reads ``0``. keyplane enforces the requests and tokens per
minute and the requests per (UTC) day; OpenAI's image, audio and batch fields are refused
with a 400 while they are set (the gateway serves none of those calls).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from keyplane.api.deps import AdminPrincipal
from keyplane.api.schemas import Strict
from keyplane.limits.policy import ENFORCED_MODEL_LIMITS, ModelLimits
from keyplane.runtime.deps import AdminResourcesDep
from keyplane.services.model_access import model_of, rate_limit_id
from keyplane.store.models import Project

router = APIRouter(prefix="/v1/organization/projects/{project_id}", tags=["project models"])
Limit = Annotated[int | None, Field(default=None, ge=0, le=10**12)]


class RateLimitUpdate(Strict):
    max_requests_per_1_minute: Limit = None
    max_tokens_per_1_minute: Limit = None
    max_images_per_1_minute: Limit = None
    max_audio_megabytes_per_1_minute: Limit = None
    max_requests_per_1_day: Limit = None
    batch_1_day_max_input_tokens: Limit = None


class RateLimitOut(BaseModel):
    object: Literal["project.rate_limit"] = "project.rate_limit"
    id: str
    model: str
    max_requests_per_1_minute: int = Field(description="0: no limit")
    max_tokens_per_1_minute: int = Field(description="0: no limit")
    max_requests_per_1_day: int = Field(description="0: no limit; a calendar day in UTC")

    @classmethod
    def of(cls, model: str, limits: ModelLimits) -> RateLimitOut:
        return cls(
            id=rate_limit_id(model),
            model=model,
            max_requests_per_1_minute=limits.max_requests_per_1_minute or 0,
            max_tokens_per_1_minute=limits.max_tokens_per_1_minute or 0,
            max_requests_per_1_day=limits.max_requests_per_1_day or 0,
        )


class ModelPermissionsUpdate(Strict):
    mode: Literal["allow_list", "deny_list"]
    model_ids: list[str] = Field(max_length=500)


class ModelPermissionsOut(BaseModel):
    object: Literal["project.model_permissions"] = "project.model_permissions"
    mode: Literal["allow_list", "deny_list"]
    model_ids: list[str]
    # keyplane's: False while no list is set (every model allowed; ``mode`` reads deny_list).
    enabled: bool

    @classmethod
    def of(cls, project: Project) -> ModelPermissionsOut:
        mode = project.model_permissions_mode
        return cls(
            mode="allow_list" if mode == "allow_list" else "deny_list",
            model_ids=list(project.model_ids or []) if mode else [],
            enabled=mode is not None,
        )


@router.get("/rate_limits")
async def list_rate_limits(
    project_id: str,
    principal: AdminPrincipal,
    admin: AdminResourcesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """The models the project limits, by name; ``after``/``before`` are rate limit ids."""
    limits = await admin.model_access.rate_limits(
        organization_id=principal.organization_id, project_id=project_id
    )
    rows = [RateLimitOut.of(model, value) for model, value in limits.items()]
    ids = [row.id for row in rows]
    if after in ids:
        rows = rows[ids.index(after) + 1 :]
    elif before in ids:
        rows = rows[: ids.index(before)][-limit:]
    page, more = rows[:limit], len(rows) > limit
    return {
        "object": "list",
        "data": [row.model_dump() for row in page],
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
        "has_more": more,
    }


@router.post("/rate_limits/{rate_limit_id}")
async def update_rate_limit(
    project_id: str,
    rate_limit_id: str,
    body: RateLimitUpdate,
    principal: AdminPrincipal,
    admin: AdminResourcesDep,
) -> RateLimitOut:
    model = model_of(rate_limit_id)
    limits = await admin.model_access.set_rate_limit(
        organization_id=principal.organization_id,
        project_id=project_id,
        model=model,
        changes=body.model_dump(exclude_unset=True),
        actor=principal.actor,
    )
    return RateLimitOut.of(model, limits)


@router.delete("/rate_limits/{rate_limit_id}")
async def delete_rate_limit(
    project_id: str, rate_limit_id: str, principal: AdminPrincipal, admin: AdminResourcesDep
) -> dict[str, Any]:
    """keyplane's: drop a model's limits (the same as updating every field to 0)."""
    model = model_of(rate_limit_id)
    await admin.model_access.set_rate_limit(
        organization_id=principal.organization_id,
        project_id=project_id,
        model=model,
        changes=dict.fromkeys(ENFORCED_MODEL_LIMITS),
        actor=principal.actor,
    )
    return {"object": "project.rate_limit.deleted", "id": rate_limit_id, "deleted": True}


@router.get("/model_permissions")
async def get_model_permissions(
    project_id: str, principal: AdminPrincipal, admin: AdminResourcesDep
) -> ModelPermissionsOut:
    project = await admin.model_access.permissions(
        organization_id=principal.organization_id, project_id=project_id
    )
    return ModelPermissionsOut.of(project)


@router.post("/model_permissions")
async def update_model_permissions(
    project_id: str,
    body: ModelPermissionsUpdate,
    principal: AdminPrincipal,
    admin: AdminResourcesDep,
) -> ModelPermissionsOut:
    """An allow list (only these) or a deny list (all but these); ``*`` ends a prefix."""
    project = await admin.model_access.set_permissions(
        organization_id=principal.organization_id,
        project_id=project_id,
        mode=body.mode,
        model_ids=body.model_ids,
        actor=principal.actor,
    )
    return ModelPermissionsOut.of(project)


@router.delete("/model_permissions")
async def delete_model_permissions(
    project_id: str, principal: AdminPrincipal, admin: AdminResourcesDep
) -> dict[str, Any]:
    await admin.model_access.set_permissions(
        organization_id=principal.organization_id,
        project_id=project_id,
        mode=None,
        model_ids=[],
        actor=principal.actor,
    )
    return {"object": "project.model_permissions.deleted", "deleted": True}
