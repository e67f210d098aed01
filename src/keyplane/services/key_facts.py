"""What a key's row shows beside its settings: spend against its budget, the last seven days,
and until when a rotated-out secret still works. Read-only.

The budget window is the one the limits enforce (``limits.policy.window_of``), so the spend
shown is the spend that a call is judged against, as far as the meter has written it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from keyplane.limits.policy import Budget, Window, window_of
from keyplane.store.database import Database
from keyplane.store.models import ApiKey, ApiKeySecret, UsageBucket
from keyplane.usage.reports import EpochSeconds

SPARK_DAYS = 7


@dataclass(frozen=True, slots=True)
class Spend:
    """This period's spend of a budgeted key."""

    budget: Budget
    window: Window
    spent_micro_usd: int

    @property
    def share(self) -> float:
        """Spent over budget: 0.5 is half; above 1 when in-flight calls overshot."""
        if self.budget.limit_micro_usd <= 0:
            return 1.0 if self.spent_micro_usd > 0 else 0.0
        return self.spent_micro_usd / self.budget.limit_micro_usd


@dataclass(frozen=True, slots=True)
class Day:
    start: datetime
    requests: int = 0
    cost_micro_usd: int = 0


@dataclass(frozen=True, slots=True)
class KeyFacts:
    spend: Spend | None
    days: list[Day] = field(default_factory=list)
    old_secret_until: datetime | None = None


class KeyFactsReader:
    """Reads the facts of a page of keys in a few queries, whatever the page's size."""

    def __init__(self, database: Database) -> None:
        self.db = database

    async def of(self, keys: Sequence[ApiKey], *, now: datetime) -> dict[str, KeyFacts]:
        if not keys:
            return {}
        ids = [key.id for key in keys]
        spent = await self._spent(keys, now)
        projects = sorted({key.project_id for key in keys if key.project_id})
        days = await self._days(ids, projects, now)
        old = await self._old_secrets(ids, now)
        facts = {}
        for key in keys:
            spend = None
            if key.budget is not None:
                window = window_of(key.budget.period, now)
                spend = Spend(key.budget, window, spent.get(key.id, 0))
            facts[key.id] = KeyFacts(spend, days[key.id], old.get(key.id))
        return facts

    async def _spent(self, keys: Sequence[ApiKey], now: datetime) -> dict[str, int]:
        """Cost per key since the start of its budget window: one query per window start."""
        by_start: dict[datetime, list[str]] = {}
        projects = sorted({key.project_id for key in keys if key.project_id})
        for key in keys:
            if key.budget is not None:
                by_start.setdefault(window_of(key.budget.period, now).start, []).append(key.id)
        out: dict[str, int] = {}
        async with self.db.session() as session:
            for start, ids in by_start.items():
                query = (
                    select(UsageBucket.api_key_id, func.sum(UsageBucket.cost_micro_usd))
                    .where(
                        # The project narrows the rows through its (project, start) index.
                        UsageBucket.project_id.in_(projects),
                        UsageBucket.api_key_id.in_(ids),
                        UsageBucket.bucket_start >= start,
                    )
                    .group_by(UsageBucket.api_key_id)
                )
                for key_id, total in await session.execute(query):
                    out[key_id] = int(total or 0)
        return out

    async def _days(
        self, ids: list[str], projects: list[str], now: datetime
    ) -> dict[str, list[Day]]:
        """Requests and cost per UTC day, today and the six before, zeros included."""
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        starts = [today - timedelta(days=SPARK_DAYS - 1 - i) for i in range(SPARK_DAYS)]
        first = int(starts[0].timestamp())
        # Summed by the database, per key and day index: a week of minute rows of a page of
        # keys can be millions. One expression in a subquery, as the usage reports do.
        rows = (
            select(
                UsageBucket.api_key_id.label("key"),
                ((EpochSeconds(UsageBucket.bucket_start) - first) // 86400).label("day"),
                UsageBucket.requests.label("requests"),
                UsageBucket.cost_micro_usd.label("cost"),
            )
            .where(
                UsageBucket.project_id.in_(projects),
                UsageBucket.api_key_id.in_(ids),
                UsageBucket.bucket_start >= starts[0],
            )
            .subquery()
        )
        query = select(
            rows.c.key, rows.c.day, func.sum(rows.c.requests), func.sum(rows.c.cost)
        ).group_by(rows.c.key, rows.c.day)
        sums: dict[tuple[str, int], tuple[int, int]] = {}
        async with self.db.session() as session:
            for key_id, day, requests, cost in await session.execute(query):
                sums[key_id, int(day)] = (int(requests or 0), int(cost or 0))
        return {
            key_id: [Day(start, *sums.get((key_id, i), (0, 0))) for i, start in enumerate(starts)]
            for key_id in ids
        }

    async def _old_secrets(self, ids: list[str], now: datetime) -> dict[str, datetime]:
        """The latest end of a rotated-out secret that still works, per key."""
        query = (
            select(ApiKeySecret.api_key_id, func.max(ApiKeySecret.expires_at))
            .where(
                # The current secret has no end; rotated-out ones end with their grace.
                ApiKeySecret.api_key_id.in_(ids),
                ApiKeySecret.expires_at.is_not(None),
                ApiKeySecret.expires_at > now,
            )
            .group_by(ApiKeySecret.api_key_id)
        )
        async with self.db.session() as session:
            rows = await session.execute(query)
            return {key_id: until.replace(tzinfo=now.tzinfo) for key_id, until in rows if until}
