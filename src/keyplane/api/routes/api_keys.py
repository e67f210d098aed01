"""``/v1/organization/projects/{project_id}/api_keys``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query

from keyplane.api.deps import AdminPrincipal
from keyplane.api.schemas import (
    ApiKeyCreate,
    ApiKeyOut,
    ApiKeyUpdate,
    BudgetIn,
    CreatedApiKeyOut,
    Deleted,
    ListOut,
    RateLimitsIn,
    RotateRequest,
    from_unix,
)
from keyplane.errors import ValidationFailedError
from keyplane.keys.format import KeyKind
from keyplane.keys.permissions import PermissionMode, Permissions
from keyplane.runtime.deps import ClockDep, DatabaseDep, KeysDep, RotationDep
from keyplane.services.api_keys import UNSET, KeyChanges, KeySpec
from keyplane.services.owners import owners_of
from keyplane.store.database import Database
from keyplane.store.models import ApiKey

router = APIRouter(prefix="/v1/organization/projects/{project_id}/api_keys", tags=["api keys"])


async def shown(database: Database, key: ApiKey, *, now: datetime) -> ApiKeyOut:
    return ApiKeyOut.of(key, now=now, owners=await owners_of(database, [key]))


@router.get("")
async def list_keys(
    project_id: str,
    principal: AdminPrincipal,
    clock: ClockDep,
    keys: KeysDep,
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
    include_revoked: bool = False,
    owner_project_access: Literal["active", "inactive", "any"] = "any",
) -> ListOut[ApiKeyOut]:
    """A page of keys; ``owner_project_access`` keeps those whose owner still reaches (or
    no longer reaches) the project, reading on until the page is full."""
    found: list[ApiKeyOut] = []
    cursor = after
    while True:
        page = await keys.list(
            organization_id=principal.organization_id,
            project_id=project_id,
            limit=limit,
            after=cursor,
            include_revoked=include_revoked,
        )
        owners = await owners_of(database, page.items)
        now = clock()
        for key in page.items:
            view = ApiKeyOut.of(key, now=now, owners=owners)
            if owner_project_access in ("any", view.owner_project_access):
                found.append(view)
        if len(found) >= limit or not page.has_more:
            break
        cursor = page.last_id
    data = found[:limit]
    more = len(found) > limit or page.has_more
    return ListOut(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=more,
    )


@router.post("")
async def create_key(
    project_id: str,
    body: ApiKeyCreate,
    principal: AdminPrincipal,
    keys: KeysDep,
    clock: ClockDep,
    database: DatabaseDep,
) -> CreatedApiKeyOut:
    """Create a key (keyplane's own: OpenAI makes keys only through service accounts).
    200, as every OpenAI create answers; keyplane answered 201 before."""
    spec = KeySpec(
        name=body.name,
        kind=KeyKind.SERVICE_ACCOUNT if body.kind == "service_account" else KeyKind.PROJECT,
        permissions=body.permissions.to_domain(),
        allowed_models=body.allowed_models,
        allowed_ips=body.allowed_ips,
        expires_at=from_unix(body.expires_at),
        metadata=body.metadata,
        enabled=body.enabled,
        rate_limits=body.rate_limits.to_domain() if body.rate_limits else None,
        budget=body.budget.to_domain() if body.budget else None,
    )
    issued = await keys.create(
        organization_id=principal.organization_id,
        project_id=project_id,
        spec=spec,
        actor=principal.actor,
    )
    view = await shown(database, issued.key, now=clock())
    return CreatedApiKeyOut(**view.model_dump(), value=issued.plaintext)


@router.get("/{key_id}")
async def get_key(
    project_id: str,
    key_id: str,
    principal: AdminPrincipal,
    keys: KeysDep,
    clock: ClockDep,
    database: DatabaseDep,
) -> ApiKeyOut:
    key = await keys.get(
        organization_id=principal.organization_id, project_id=project_id, key_id=key_id
    )
    return await shown(database, key, now=clock())


@router.post("/{key_id}")
async def update_key(
    project_id: str,
    key_id: str,
    body: ApiKeyUpdate,
    principal: AdminPrincipal,
    keys: KeysDep,
    clock: ClockDep,
    database: DatabaseDep,
) -> ApiKeyOut:
    changes = _changes(body, now=clock())
    key = await keys.update(
        organization_id=principal.organization_id,
        project_id=project_id,
        key_id=key_id,
        changes=changes,
        actor=principal.actor,
    )
    return await shown(database, key, now=clock())


@router.delete("/{key_id}")
async def revoke_key(
    project_id: str, key_id: str, principal: AdminPrincipal, keys: KeysDep
) -> Deleted:
    key = await keys.revoke(
        organization_id=principal.organization_id,
        project_id=project_id,
        key_id=key_id,
        actor=principal.actor,
    )
    return Deleted(object="organization.project.api_key.deleted", id=key.id)


@router.post("/{key_id}/rotate")
async def rotate_key(
    project_id: str,
    key_id: str,
    principal: AdminPrincipal,
    rotation: RotationDep,
    clock: ClockDep,
    database: DatabaseDep,
    body: RotateRequest | None = None,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> CreatedApiKeyOut:
    issued = await rotation.rotate(
        organization_id=principal.organization_id,
        project_id=project_id,
        key_id=key_id,
        grace_period_seconds=(body or RotateRequest()).grace_period_seconds,
        idempotency_key=idempotency_key,
        actor=principal.actor,
    )
    view = await shown(database, issued.key, now=clock())
    return CreatedApiKeyOut(**view.model_dump(), value=issued.plaintext)


def _changes(body: ApiKeyUpdate, *, now: datetime) -> KeyChanges:
    """The update's fields, OpenAI's ``scopes`` and ``expires_in_seconds`` among them."""
    given = body.model_fields_set
    if body.scopes is not None and body.permissions is not None:
        raise ValidationFailedError("Give scopes or permissions, not both.", param="scopes")
    if body.expires_in_seconds is not None and "expires_at" in given:
        raise ValidationFailedError(
            "Give expires_in_seconds or expires_at, not both.", param="expires_in_seconds"
        )
    permissions: Any = UNSET
    if body.scopes is not None:
        permissions = Permissions(mode=PermissionMode.RESTRICTED, scopes=tuple(body.scopes))
    elif "permissions" in given and body.permissions is not None:
        permissions = body.permissions.to_domain()
    expires_at: Any = from_unix(body.expires_at) if "expires_at" in given else UNSET
    if body.expires_in_seconds is not None:
        expires_at = now + timedelta(seconds=body.expires_in_seconds)
    return KeyChanges(
        name=body.name if "name" in given and body.name is not None else UNSET,
        permissions=permissions,
        allowed_models=_given_list(body.allowed_models, "allowed_models" in given),
        allowed_ips=_given_list(body.allowed_ips, "allowed_ips" in given),
        expires_at=expires_at,
        metadata=(body.metadata or {}) if "metadata" in given else UNSET,
        enabled=body.enabled if "enabled" in given and body.enabled is not None else UNSET,
        rate_limits=_limits(body.rate_limits, "rate_limits" in given),
        budget=_limits(body.budget, "budget" in given),
    )


def _limits(value: RateLimitsIn | BudgetIn | None, given: bool) -> Any:
    """UNSET when absent, None when sent as null (clears it), else the domain value."""
    if not given:
        return UNSET
    return None if value is None else value.to_domain()


def _given_list(value: list[str] | None, given: bool) -> list[str]:
    if not given:
        return UNSET  # type: ignore[no-any-return]
    return value or []
