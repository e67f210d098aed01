"""``POST /v1/leaks/github``: GitHub secret scanning partner reports, authenticated by signature."""

from __future__ import annotations

from fastapi import APIRouter, Request

from keyplane.audit.actor import Actor
from keyplane.leaks.github import KEY_ID_HEADER, SIGNATURE_HEADER
from keyplane.leaks.report import Feedback, parse_report
from keyplane.runtime.deps import LeaksDep, client_ip

router = APIRouter(tags=["leaks"])


@router.post("/v1/leaks/github")
async def github_leak_report(request: Request, leaks: LeaksDep) -> list[Feedback]:
    """Revoke the live keys GitHub found in public; label each reported token."""
    # The signature covers the raw bytes, so check it before anything parses them.
    body = await request.body()
    leaks.trusted_keys.verify(
        body,
        key_identifier=request.headers.get(KEY_ID_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
    )
    tokens = parse_report(body)
    actor = Actor(
        type="leak_report",
        label="github",
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return await leaks.report(tokens, actor=actor)
