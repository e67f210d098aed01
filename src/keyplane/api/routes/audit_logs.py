"""``/v1/organization/audit_logs``: newest first, filtered by type, actor and time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from keyplane.api.deps import AdminPrincipal
from keyplane.api.schemas import AuditEventOut, ListOut, from_unix
from keyplane.runtime.deps import AuditLogDep

# Unix seconds past this are no date (datetime stops at year 9999): a 422, not a crash.
_UNIX: dict[str, int] = {"ge": 0, "le": 253402300799}
router = APIRouter(prefix="/v1/organization/audit_logs", tags=["audit log"])


@router.get("")
async def list_audit_logs(
    principal: AdminPrincipal,
    audit_log: AuditLogDep,
    event_types: Annotated[list[str] | None, Query(alias="event_types[]")] = None,
    type: Annotated[list[str] | None, Query()] = None,
    actor_ids: Annotated[list[str] | None, Query(alias="actor_ids[]")] = None,
    actor_id: Annotated[list[str] | None, Query()] = None,
    target_id: str | None = None,
    effective_at_gte: Annotated[int | None, Query(alias="effective_at[gte]", **_UNIX)] = None,
    effective_at_lt: Annotated[int | None, Query(alias="effective_at[lt]", **_UNIX)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
    before: str | None = None,
) -> ListOut[AuditEventOut]:
    page = await audit_log.events(
        organization_id=principal.organization_id,
        types=(event_types or []) + (type or []),
        actor_ids=(actor_ids or []) + (actor_id or []),
        target_id=target_id,
        start=from_unix(effective_at_gte),
        end=from_unix(effective_at_lt),
        limit=limit,
        after=after,
        before=before,
    )
    return ListOut.of(page, [AuditEventOut.of(e) for e in page.items])
