"""The audit log: newest first, filtered by type, actor and date, a page at a time."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from keyplane.errors import PermissionDeniedError
from keyplane.runtime.deps import AuditLogDep, DatabaseDep, MembersDep, NowDep
from keyplane.services.audit_reads import AuditReader
from keyplane.services.sessions import SignedIn
from keyplane.web.audit_view import LABELS, EventView, label_of, mentioned_ids
from keyplane.web.auth import Viewer
from keyplane.web.errors import TAG
from keyplane.web.forms import day_start, parse_day
from keyplane.web.templating import pages_of

router = APIRouter(prefix="/audit", tags=[TAG], include_in_schema=False)
PAGE = 50


@router.get("")
async def audit_log(
    request: Request,
    audit_log: AuditLogDep,
    members: MembersDep,
    now: NowDep,
    database: DatabaseDep,
    me: Viewer,
    type: str = "",
    actor: str = "",
    start: str = "",
    end: str = "",
    after: str | None = None,
    before: str | None = None,
) -> Response:
    _require_auditor(me)
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
    reader = AuditReader(database)
    org = me.access.organization_id
    ids = set().union(*(mentioned_ids(e) for e in page.items))
    names = await reader.names(organization_id=org, ids=ids)
    types = sorted(set(LABELS) | set(await reader.types(organization_id=org)) | {type} - {""})
    filters = {"type": type, "actor": actor, "start": start, "end": end}
    return pages_of(request).render(
        request,
        "audit.html",
        me=me,
        events=[EventView.of(e, names) for e in page.items],
        has_more=page.has_more,
        paged=bool(after or before),
        first_id=page.first_id,
        last_id=page.last_id,
        filters=filters,
        query={k: v for k, v in filters.items() if v},
        event_types=sorted(((label_of(t), t) for t in types), key=lambda lt: lt[0].lower()),
        people=[(m.user.id, m.user.name or m.user.email) for m in everyone],
        now=now,
    )


@router.get("/{event_id}")
async def audit_event(
    request: Request, event_id: str, database: DatabaseDep, me: Viewer
) -> Response:
    """One event in words, and as it is stored."""
    _require_auditor(me)
    reader = AuditReader(database)
    org = me.access.organization_id
    event = await reader.event(organization_id=org, event_id=event_id)
    names = await reader.names(organization_id=org, ids=mentioned_ids(event))
    return pages_of(request).render(
        request, "audit_event.html", me=me, view=EventView.of(event, names)
    )


def _require_auditor(me: SignedIn) -> None:
    if not me.access.sees_all_projects:
        raise PermissionDeniedError("The audit log is for owners, admins and readers.")
