"""Budget alerts: once per threshold per period, an audit event and a signed webhook."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from keyplane.audit.actor import SYSTEM
from keyplane.audit.log import record
from keyplane.clock import Clock
from keyplane.limits.backend import BudgetChange, thresholds_crossed
from keyplane.limits.policy import MICRO, window_of
from keyplane.store.database import Database
from keyplane.store.models import BudgetAlert
from keyplane.webhooks.sender import WebhookSender

logger = logging.getLogger(__name__)


def crossed(change: BudgetChange) -> list[int]:
    """Thresholds (percent) that this settlement crossed: below before, at or above after."""
    return thresholds_crossed(change.budget, change.spent_before, change.spent_after)


class BudgetAlerts:
    def __init__(self, database: Database, *, webhooks: WebhookSender, clock: Clock) -> None:
        self.db = database
        self.webhooks = webhooks
        self.clock = clock

    async def notify(self, organization_id: str, changes: Sequence[BudgetChange]) -> None:
        for change in changes:
            for threshold in crossed(change):
                await self._fire(organization_id, change, threshold)

    async def _fire(self, organization_id: str, change: BudgetChange, threshold: int) -> None:
        scope_type, _, scope_id = change.scope.partition(":")
        now = self.clock()
        period = window_of(change.budget.period, now)
        data = {
            "scope_type": scope_type,
            "scope_id": scope_id,
            "threshold_percent": threshold,
            "period": change.budget.period.value,
            "period_start": int(period.start.timestamp()),
            "limit_usd": change.budget.limit_micro_usd / MICRO,
            "limit_micro_usd": change.budget.limit_micro_usd,
            "spent_micro_usd": change.spent_after,
        }
        try:
            async with self.db.session() as session, session.begin():
                # The unique row is the "once": another instance crossing it too fails here.
                session.add(
                    _alert(organization_id, scope_type, scope_id, period.start, threshold, now)
                )
                await session.flush()
                record(
                    session,
                    organization_id=organization_id,
                    type="budget.threshold_crossed",
                    actor=SYSTEM,
                    target_type=scope_type,
                    target_id=scope_id,
                    data=data,
                )
        except IntegrityError:
            return
        await self.webhooks.enqueue(organization_id, "budget.threshold_crossed", data)
        logger.info("budget alert: %s crossed %d%%", change.scope, threshold)


def _alert(
    organization_id: str,
    scope_type: str,
    scope_id: str,
    period_start: datetime,
    threshold: int,
    now: datetime,
) -> BudgetAlert:
    return BudgetAlert(
        organization_id=organization_id,
        scope_type=scope_type,
        scope_id=scope_id,
        period_start=period_start,
        threshold=threshold,
        created_at=now,
    )
