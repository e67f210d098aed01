"""Retention and roll-ups: minutes folded into hours, hours into days, in small batches.

The meter writes minute rows. Past ``Retention.minutes``, the minute rows of each complete
UTC hour are folded into one hour row per key, model, endpoint, upstream and tier; past
``Retention.hours``, hours into days; past ``Retention.days`` (when set), day rows are dropped,
with the day sums of ``usage_days``.
A fold is one short transaction: it deletes up to ``batch_rows`` rows of the finer width and
adds their sums to the coarser rows with the same atomic upsert the meter uses, so a total
over any aligned range is the same before and after. Minute rows that arrive late (a journal
replayed after an outage) are folded by a later pass into the hour that already exists.

Several instances may fold at once: ``DELETE ... RETURNING`` hands each row to exactly one of
them (a row another transaction deleted is not returned), so nothing is counted twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from keyplane.clock import Clock, system_clock
from keyplane.store.database import Database
from keyplane.store.models import UsageBucket, UsageDay
from keyplane.usage.buckets import DAY, MINUTE, BucketKey, add_to_buckets
from keyplane.usage.counters import COUNTERS, UsageCounters, summed

HOUR = 3600
_KEY_COLUMNS = ("api_key_id", "model", "endpoint", "provider", "service_tier")


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each width is kept; ``days=None`` keeps day rows for ever."""

    minutes: timedelta = timedelta(days=2)
    hours: timedelta = timedelta(days=14)
    days: timedelta | None = None


def aligned(moment: datetime, width: int) -> datetime:
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % width, UTC)


class RollUp:
    """Folds usage rows past their retention, a batch per transaction; ``stop`` ends a pass."""

    def __init__(
        self,
        database: Database,
        *,
        retention: Retention,
        clock: Clock = system_clock,
        batch_rows: int = 2000,
    ) -> None:
        self.db = database
        self.retention = retention
        self.clock = clock
        self.batch_rows = batch_rows
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """End the pass in hand after its current batch (a batch is never cut in the middle)."""
        self._stopping.set()

    async def run_once(self) -> int:
        """Fold and drop everything that is due; the number of rows folded or dropped."""
        now = self.clock()
        done = 0
        for fine, coarse, kept in (
            (MINUTE, HOUR, self.retention.minutes),
            (HOUR, DAY, self.retention.hours),
        ):
            cutoff = aligned(now - kept, coarse)  # only whole periods of the coarser width
            while not self._stopping.is_set() and (
                folded := await self.fold(fine, coarse, before=cutoff)
            ):
                done += folded
                await asyncio.sleep(0)  # one batch at a time: the meter's flushes go between
        if self.retention.days is not None:
            cutoff = aligned(now - self.retention.days, DAY)
            while not self._stopping.is_set() and (dropped := await self.drop_days(before=cutoff)):
                done += dropped
                await asyncio.sleep(0)
        return done

    async def fold(self, fine: int, coarse: int, *, before: datetime) -> int:
        """Fold up to ``batch_rows`` rows of width ``fine`` that start before ``before``."""
        chosen = (
            select(UsageBucket.id)
            .where(UsageBucket.width == fine, UsageBucket.bucket_start < before)
            .limit(self.batch_rows)
        )
        taken = (
            delete(UsageBucket)
            .where(UsageBucket.id.in_(chosen.scalar_subquery()))
            .returning(
                UsageBucket.bucket_start,
                UsageBucket.organization_id,
                UsageBucket.project_id,
                *(getattr(UsageBucket, name) for name in (*_KEY_COLUMNS, *COUNTERS)),
            )
        )
        async with self.db.session() as session, session.begin():
            rows = (await session.execute(taken)).all()
            if rows:
                sums = _sums(rows, coarse)
                await add_to_buckets(
                    session, list(sums.items()), dialect=self.db.engine.dialect.name, width=coarse
                )
        return len(rows)

    async def drop_days(self, *, before: datetime) -> int:
        """Drop up to ``batch_rows`` day rows that start before ``before``: those of
        ``usage_buckets`` first, then the day sums of ``usage_days``, which reports read for
        the same days."""
        chosen = (
            select(UsageBucket.id)
            .where(UsageBucket.width == DAY, UsageBucket.bucket_start < before)
            .limit(self.batch_rows)
        )
        day_sums = select(UsageDay.id).where(UsageDay.day < before).limit(self.batch_rows)
        async with self.db.session() as session, session.begin():
            for table, rows in ((UsageBucket, chosen), (UsageDay, day_sums)):
                result = await session.execute(
                    delete(table).where(table.id.in_(rows.scalar_subquery())).returning(table.id)
                )
                if dropped := len(result.all()):
                    return dropped
        return 0


def _sums(rows: Sequence[Any], width: int) -> dict[BucketKey, UsageCounters]:
    return summed((_aligned_key(row, width), _counters(row)) for row in rows)


def _aligned_key(row: Any, width: int) -> BucketKey:
    start = int(row.bucket_start.timestamp())
    return BucketKey(
        start - start % width,
        row.api_key_id,
        row.model,
        row.endpoint,
        row.provider,
        row.service_tier,
        row.organization_id,
        row.project_id,
    )


def _counters(row: Any) -> UsageCounters:
    return UsageCounters(**{name: getattr(row, name) for name in COUNTERS})
