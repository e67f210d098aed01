"""The organisation's budget (OpenAI's ``organization/spend_limit``), as admission reads it.

Read from the store at most once a second per organisation and instance, and reloaded in the
background before it goes stale (``keyplane.freshness``), so the gateway's common path costs
a dictionary lookup and never waits for the store; a change shows within a second, like a
revocation.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from keyplane.errors import UnavailableError
from keyplane.freshness import RefreshAhead
from keyplane.limits.policy import Budget
from keyplane.store.database import STORE_UNREACHABLE, Database
from keyplane.store.models import Organization

FRESH_SECONDS = 1.0


class _Unknown:
    """Never read: there is no last word to fall back on."""


_UNKNOWN = _Unknown()


class OrganizationBudgets:
    def __init__(
        self, database: Database, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = database
        self._budgets: RefreshAhead[str, Budget | None] = RefreshAhead(
            FRESH_SECONDS, monotonic=monotonic
        )

    async def of(self, organization_id: str) -> Budget | None:
        try:
            return await self._budgets.get(organization_id, lambda: self._read(organization_id))
        except STORE_UNREACHABLE:
            last = self._budgets.last(organization_id, _UNKNOWN)
            if not isinstance(last, _Unknown):
                return last  # the last word is better than none while the store is away
            raise UnavailableError(  # a budget fails closed
                "The store is unreachable, so the organisation's spend limit cannot be checked; "
                "try again shortly.",
                code="store_unavailable",
            ) from None

    async def _read(self, organization_id: str) -> Budget | None:
        async with self.db.session() as session:
            return (
                await session.execute(
                    select(Organization.budget).where(Organization.id == organization_id)
                )
            ).scalar()
