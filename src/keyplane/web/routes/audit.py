"""The audit log: newest first, filtered by type, actor and date, a page at a time."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from keyplane.errors import PermissionDeniedError
from keyplane.runtime.deps import AuditLogDep, MembersDep, NowDep
from keyplane.web.auth import Viewer
from keyplane.web.errors import TAG
from keyplane.web.forms import day_start, parse_day
from keyplane.web.templating import pages_of

router = APIRouter(prefix="/audit", tags=[TAG], include_in_schema=False)
PAGE = 50
EVENT_TYPES = (
    "project.created",
    "project.updated",
    "project.archived",
    "api_key.created",
    "api_key.updated",
    "api_key.rotated",
    "api_key.deleted",
    "api_key.leaked",
    "admin_api_key.created",
    "admin_api_key.deleted",
    "user.created",
    "member.invited",
    "member.invite_revoked",
    "member.added",
    "member.role_changed",
    "member.projects_changed",
    "member.removed",
    "login.failed",
    "login.locked",
)


@router.get("")
async def audit_log(
    request: Request,
    audit_log: AuditLogDep,
    members: MembersDep,
    now: NowDep,
    me: Viewer,
    type: str = "",
    actor: str = "",
    start: str = "",
    end: str = "",
    after: str | None = None,
    before: str | None = None,
) -> Response:
    if not me.access.sees_all_projects:
        raise PermissionDeniedError("The audit log is for owners, admins and readers.")
    first = parse_day(start, param="start")
    last = parse_day(end, param="end")
    page = await audit_log.events(
        organization_id=me.access.organization_id,
        types=[type] if type else None,
        actor_ids=[actor] if actor else None,
        start=day_start(first) if first else None,
        end=day_start(last) + timedelta(days=1) if last else None,
        limit=PAGE,
        after=after,
        before=before,
    )
    everyone = await members.all(organization_id=me.access.organization_id)
    filters = {"type": type, "actor": actor, "start": start, "end": end}
    return pages_of(request).render(
        request,
        "audit.html",
        me=me,
        events=page.items,
        has_more=page.has_more,
        paged=bool(after or before),
        first_id=page.first_id,
        last_id=page.last_id,
        filters=filters,
        query={k: v for k, v in filters.items() if v},
        event_types=EVENT_TYPES,
        people=[(m.user.id, m.user.email) for m in everyone],
        now=now,
    )
