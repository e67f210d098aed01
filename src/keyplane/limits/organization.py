"""The organisation's budget (OpenAI's ``organization/spend_limit``), as admission reads it.

Read from the store at most once a second per organisation and instance, so the gateway's
common path costs a dictionary lookup; a change shows within a second, like a revocation.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from keyplane.errors import UnavailableError
from keyplane.limits.policy import Budget
from keyplane.store.database import STORE_UNREACHABLE, Database
from keyplane.store.models import Organization

FRESH_SECONDS = 1.0


class OrganizationBudgets:
    def __init__(
        self, database: Database, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = database
        self._monotonic = monotonic
        self._known: dict[str, tuple[Budget | None, float]] = {}

    async def of(self, organization_id: str) -> Budget | None:
        known = self._known.get(organization_id)
        now = self._monotonic()
        if known is not None and known[1] > now:
            return known[0]
        try:
            async with self.db.session() as session:
                budget = (
                    await session.execute(
                        select(Organization.budget).where(Organization.id == organization_id)
                    )
                ).scalar()
        except STORE_UNREACHABLE:
            if known is not None:
                return known[0]  # the last word is better than none while the store is away
            raise UnavailableError(  # a budget fails closed
                "The store is unreachable, so the organisation's spend limit cannot be checked; "
                "try again shortly.",
                code="store_unavailable",
            ) from None
        self._known[organization_id] = (budget, now + FRESH_SECONDS)
        return budget
