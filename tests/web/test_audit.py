"""The audit log page: filters and pages."""

from __future__ import annotations

import re

from fastapi import FastAPI

from keyplane.audit.actor import SYSTEM
from keyplane.services.bootstrap import Bootstrap
from web.conftest import WebClient


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
