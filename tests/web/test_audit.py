"""The audit log page: filters and pages."""

from __future__ import annotations

import html
import json
import re

from fastapi import FastAPI

from keyplane.audit.actor import SYSTEM, Actor
from keyplane.audit.log import record
from keyplane.services.bootstrap import Bootstrap
from web.conftest import Invite, WebClient


async def test_audit_log_pages_and_filters(
    app: FastAPI, owner: WebClient, booted: Bootstrap
) -> None:
    for i in range(55):
        await app.state.runtime.projects.create(
            organization_id=booted.organization_id, name=f"p{i}", actor=SYSTEM
        )
    first = await owner.get("/audit?type=project.created")
    assert first.text.count("<code>project.created</code>") == 50
    older = re.search(r'href="(/audit\?[^"]*after=[^"]+)"', first.text)
    assert older
    second = await owner.get(older.group(1).replace("&amp;", "&"))
    assert second.text.count("<code>project.created</code>") == 6  # 55 + the default project
    assert "Newer" in second.text

    mine = await owner.get("/audit?type=user.created")
    assert mine.text.count("<code>user.created</code>") == 1
    future = await owner.get("/audit?start=2999-01-01")
    assert "Nothing matches these filters" in future.text


async def test_events_read_as_names_dates_and_words_even_for_a_new_type(
    app: FastAPI, owner: WebClient, booted: Bootstrap
) -> None:
    runtime = app.state.runtime
    project = await runtime.projects.create(
        organization_id=booted.organization_id, name="Search", actor=SYSTEM
    )
    me = (await runtime.members.all(organization_id=booted.organization_id))[0].user
    async with runtime.database.session() as session, session.begin():
        record(
            session,
            organization_id=booted.organization_id,
            type="rate_limit.tightened",  # a type this dashboard has never heard of
            actor=Actor(type="user", id=me.id, label=me.email),
            target_type="project",
            target_id=project.id,
            data={
                "recipients": [{"type": "user", "id": me.id}],
                "webhook": None,
                "old_secret_expires_at": 1_780_000_000,
                "max_requests_per_1_minute": 600,
                "project_id": project.id,
                "grace_period_seconds": 3600,
            },
        )
    page = await owner.get("/audit")
    row = page.text.split("<code>rate_limit.tightened</code>", 1)[1].split("</tr>", 1)[0]
    assert "Rate limit tightened" in page.text
    assert "Search" in row and project.id not in row.split('href="/audit/')[0]
    assert "Person: Olive Owner" in row  # the recipient, by name
    assert "2026-05-28 20:26:40 UTC" in row and "1780000000" not in row
    assert "600" in row and "Max requests per 1 minute" in row
    assert "Project:</span> Search" in row and "Grace period:</span> 1 hour" in row
    assert "None" not in row and "{'" not in row and "Webhook" not in row
    assert 'value="rate_limit.tightened"' in page.text  # the filter offers every type stored

    detail_id = re.search(r'href="/audit/(audit_[^"]+)"', row)
    assert detail_id
    detail = await owner.get(f"/audit/{detail_id.group(1)}")
    raw = html.unescape(detail.text.split('id="raw-event"', 1)[1].split("</code>", 1)[0])
    event = json.loads(raw.split("<code>", 1)[1])
    assert event["type"] == "rate_limit.tightened"
    assert event["data"]["old_secret_expires_at"] == 1_780_000_000


async def test_a_member_cannot_open_an_audit_event(
    owner: WebClient, invited: Invite, booted: Bootstrap
) -> None:
    page = await owner.get("/audit")
    event_id = re.search(r'href="/audit/(audit_[^"]+)"', page.text)
    assert event_id
    member = await invited("m@example.com", "member")
    assert (await member.get(f"/audit/{event_id.group(1)}")).status_code == 403
    assert (await owner.get("/audit/audit_nope")).status_code == 404
