"""Revoke reported leaks at once, and tell the key's owner and the organisation's admins."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.auth.resolve import resolve_key
from keyplane.clock import Clock, system_clock
from keyplane.leaks.github import TrustedKeys
from keyplane.leaks.report import Feedback, Label, ReportedToken
from keyplane.services.api_keys import revoke_in
from keyplane.services.members import MANAGERS
from keyplane.store.database import Database
from keyplane.store.models import ApiKey, ApiKeySecret, Membership, Organization
from keyplane.webhooks.sender import WebhookSender

logger = logging.getLogger(__name__)

LEAKED_EVENT = "api_key.leaked"
NOTIFIED_EVENT = "api_key.leak_notified"


class LeakService:
    """Handles verified reports; ``trusted_keys`` checks their signatures first."""

    def __init__(
        self,
        database: Database,
        *,
        brand: str,
        trusted_keys: TrustedKeys,
        webhooks: WebhookSender,
        clock: Clock = system_clock,
    ) -> None:
        self.db = database
        self.brand = brand
        self.trusted_keys = trusted_keys
        self.webhooks = webhooks
        self.clock = clock

    async def report(self, tokens: list[ReportedToken], *, actor: Actor) -> list[Feedback]:
        """Revoke each reported live key; label each token for the reporter's feedback."""
        return [Feedback.of(reported, await self._handle(reported, actor)) for reported in tokens]

    async def _handle(self, reported: ReportedToken, actor: Actor) -> Label:
        now = self.clock()
        async with self.db.session() as session, session.begin():
            # The checksum turns junk away here, before any lookup.
            found = await resolve_key(session, presented=reported.token, brand=self.brand, now=now)
            if found.key is None:
                return Label.FALSE_POSITIVE
            leak = await _revoke(session, found.key, found.secret, reported, actor=actor, now=now)
            if leak is not None:
                await _record_notice(session, found.key, leak, actor=actor)
        if leak is not None:
            await self.webhooks.enqueue(found.key.organization_id, LEAKED_EVENT, leak)
            logger.warning(
                "revoked leaked %s %s (%s) reported at %s",
                leak["revoked"],
                found.key.id,
                found.key.redacted_value,
                reported.url or "an unknown place",
            )
        return Label.TRUE_POSITIVE


async def _revoke(
    session: AsyncSession,
    key: ApiKey,
    secret: ApiKeySecret | None,
    reported: ReportedToken,
    *,
    actor: Actor,
    now: datetime,
) -> dict[str, Any] | None:
    """Kill what the token opens; the leak's facts, or None when it was dead already."""
    # Lock the key, so two reports of it at once revoke it (and record it) once.
    await session.refresh(key, with_for_update=True)
    where = {"url": reported.url, "source": reported.source, "type": reported.type}
    if secret is not None and secret.expires_at is not None:
        # A secret that rotation replaced: end its grace period now and spare the new secret,
        # which was not leaked.
        await session.refresh(secret)
        if key.revoked_at is not None or secret.expires_at <= now:
            return None
        secret.expires_at = now
        leak = _facts(key, now=now, revoked="secret", where=where, redacted=secret.redacted_value)
        _audit(
            session, key, LEAKED_EVENT, actor, {"reason": "leaked", "secret_id": secret.id, **leak}
        )
        return leak
    if not revoke_in(session, key, actor=actor, now=now, reason="leaked", details=where):
        return None
    key.leaked_url = reported.url or None
    return _facts(key, now=now, revoked="key", where=where, redacted=key.redacted_value)


def _facts(
    key: ApiKey, *, now: datetime, revoked: str, where: dict[str, str], redacted: str
) -> dict[str, Any]:
    """What a notice says about a leak: never the secret, only its redacted form."""
    return {
        "key_id": key.id,
        "name": key.name,
        "kind": key.kind.value,
        "project_id": key.project_id,
        "redacted_value": redacted,
        "revoked": revoked,
        "revoked_at": int(now.timestamp()),
        "reported_by": "github",
        **where,
    }


async def _record_notice(
    session: AsyncSession, key: ApiKey, leak: dict[str, Any], *, actor: Actor
) -> None:
    """The audit trail of who is told: the key's owner and the organisation's admins."""
    admins = await session.scalars(
        select(Membership.user_id).where(
            Membership.organization_id == key.organization_id, Membership.role.in_(MANAGERS)
        )
    )
    recipients = [{"type": key.owner_type.value, "id": key.owner_id}] if key.owner_id else []
    recipients += [{"type": "user", "id": user} for user in admins if user != key.owner_id]
    org = await session.get(Organization, key.organization_id)
    webhook = LEAKED_EVENT if org is not None and org.webhook_url else None
    _audit(
        session, key, NOTIFIED_EVENT, actor, {"recipients": recipients, "webhook": webhook, **leak}
    )


def _audit(
    session: AsyncSession, key: ApiKey, event: str, actor: Actor, data: dict[str, Any]
) -> None:
    record(
        session,
        organization_id=key.organization_id,
        type=event,
        actor=actor,
        target_type="api_key",
        target_id=key.id,
        data=data,
    )
