"""``/v1/organization/audit_logs``: newest first, in OpenAI's ``AuditLog`` shape.

``event_types[]`` takes OpenAI's types and keyplane's precise names alike (``api_key.updated``
finds rotations too; ``api_key.rotated`` only them). Every filter OpenAI lists is honoured;
``tenant_only=true`` is refused, as keyplane has no tenants.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from keyplane.api.deps import AdminPrincipal
from keyplane.api.schemas import from_unix
from keyplane.api.unsupported import refuse
from keyplane.audit.log import EventFilter
from keyplane.runtime.deps import AdminResourcesDep, AuditLogDep

# Unix seconds past this are no date (datetime stops at year 9999): a 422, not a crash.
_UNIX: dict[str, int] = {"ge": 0, "le": 253402300799}
router = APIRouter(prefix="/v1/organization/audit_logs", tags=["audit log"])

Strings = list[str] | None
Unix = Annotated[int | None, Query(ge=0, le=253402300799)]


def _joined(*lists: Strings) -> list[str]:
    return [value for values in lists for value in values or []]


@router.get("")
async def list_audit_logs(
    principal: AdminPrincipal,
    audit_log: AuditLogDep,
    admin: AdminResourcesDep,
    event_types: Annotated[Strings, Query(alias="event_types[]")] = None,
    type: Annotated[Strings, Query()] = None,
    actor_ids: Annotated[Strings, Query(alias="actor_ids[]")] = None,
    actor_id: Annotated[Strings, Query()] = None,
    actor_emails: Annotated[Strings, Query(alias="actor_emails[]")] = None,
    project_ids: Annotated[Strings, Query(alias="project_ids[]")] = None,
    resource_ids: Annotated[Strings, Query(alias="resource_ids[]")] = None,
    target_id: str | None = None,
    effective_at_gt: Annotated[int | None, Query(alias="effective_at[gt]", **_UNIX)] = None,
    effective_at_gte: Annotated[int | None, Query(alias="effective_at[gte]", **_UNIX)] = None,
    effective_at_lt: Annotated[int | None, Query(alias="effective_at[lt]", **_UNIX)] = None,
    effective_at_lte: Annotated[int | None, Query(alias="effective_at[lte]", **_UNIX)] = None,
    tenant_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    if tenant_only:
        raise refuse("tenant_only", "keyplane has no tenants; leave it false.")
    page = await audit_log.events(
        organization_id=principal.organization_id,
        types=_joined(event_types, type),
        actor_ids=_joined(actor_ids, actor_id),
        target_id=target_id,
        start=from_unix(effective_at_gte),
        end=from_unix(effective_at_lt),
        limit=limit,
        after=after,
        before=before,
        filters=EventFilter(
            project_ids=_joined(project_ids),
            resource_ids=_joined(resource_ids),
            actor_emails=_joined(actor_emails),
            after_time=from_unix(effective_at_gt),
            until_time=from_unix(effective_at_lte),
        ),
    )
    return {
        "object": "list",
        "data": await admin.audit_views.render(page.items),
        "first_id": page.first_id,
        "last_id": page.last_id,
        "has_more": page.has_more,
    }
