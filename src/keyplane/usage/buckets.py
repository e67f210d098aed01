"""Add minute totals to ``usage_buckets`` with one atomic upsert, on SQLite and PostgreSQL.

``INSERT ... ON CONFLICT (start, width, key, model, endpoint, provider, tier) DO UPDATE SET
n = n + excluded.n``: the database adds, so several instances can flush into the same row
without reading it. Each flush claims its batch id in ``usage_batches`` in the same
transaction, so a batch written once is never added again. Totals also travel as journal
lines: a JSON array of the format version, the key's fields and the counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, cast

import orjson
from sqlalchemy import Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.store.batches import adding_upsert, execute_in_batches
from keyplane.store.models import USAGE_DAY_ROW, UsageBatch, UsageBucket, UsageDay
from keyplane.usage.counters import COUNTERS, UsageCounters, summed
from keyplane.usage.records import UsageRecord

_CONFLICT = (
    "bucket_start",
    "width",
    "api_key_id",
    "model",
    "endpoint",
    "provider",
    "service_tier",
)
MINUTE = 60  # the width of the rows the meter writes
DAY = 86400  # the span of a row of ``usage_days``


class BucketKey(NamedTuple):
    """Which row a total belongs to; ordered so concurrent flushes lock rows in one order.

    A tuple, not a dataclass: every metered call hashes one and finds it among the pending
    totals, and a tuple is hashed and compared in C.
    """

    minute: int  # Unix time of the row's start: a minute, or an hour or day once rolled up
    api_key_id: str
    model: str
    endpoint: str
    provider: str
    service_tier: str
    organization_id: str
    project_id: str


def bucket_of(record: UsageRecord) -> BucketKey:
    """The minute row a metered call belongs to."""
    return BucketKey(
        record.minute,
        record.api_key_id,
        record.model,
        record.endpoint,
        record.provider,
        record.service_tier,
        record.organization_id,
        record.project_id,
    )


def _row(key: BucketKey, totals: UsageCounters, width: int) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(totals, name) for name in COUNTERS}
    row |= {
        "bucket_start": datetime.fromtimestamp(key.minute, UTC),
        "width": width,
        "organization_id": key.organization_id,
        "project_id": key.project_id,
        "api_key_id": key.api_key_id,
        "model": key.model,
        "endpoint": key.endpoint,
        "provider": key.provider,
        "service_tier": key.service_tier,
    }
    return row


LINE_VERSION = 1
_KEY_FIELDS = 8
# Batch ids are kept this long: a batch retried later than this (a journal found after a
# week) could be added twice. Flushes retry within seconds; orphans are adopted at start.
BATCHES_KEPT = timedelta(days=7)


def bucket_line(key: BucketKey, totals: UsageCounters) -> bytes:
    """A journal line of ``totals`` for ``key``."""
    return counts_line(key, tuple(getattr(totals, name) for name in COUNTERS))


def counts_line(key: BucketKey, counts: tuple[int, ...]) -> bytes:
    """A journal line of ``counts`` (in ``COUNTERS`` order) for ``key``; the meter's hot path."""
    fields = (
        LINE_VERSION,
        key.minute,
        key.api_key_id,
        key.model,
        key.endpoint,
        key.provider,
        key.service_tier,
        key.organization_id,
        key.project_id,
    )
    return orjson.dumps(fields + counts) + b"\n"


def parse_bucket_line(line: bytes) -> tuple[BucketKey, UsageCounters] | None:
    """A journal line's key and totals; None when the line is not one of ours."""
    try:
        values = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(values, list) or len(values) != 1 + _KEY_FIELDS + len(COUNTERS):
        return None
    if values[0] != LINE_VERSION:
        return None
    key_fields, counts = values[1 : 1 + _KEY_FIELDS], values[1 + _KEY_FIELDS :]
    if not isinstance(key_fields[0], int) or not all(isinstance(v, str) for v in key_fields[1:]):
        return None
    if not all(type(v) is int and v >= 0 for v in counts):
        return None
    return BucketKey(*key_fields), UsageCounters(*counts)


async def claim_batch(session: AsyncSession, batch_id: str, *, dialect: str) -> bool:
    """Record ``batch_id`` as written; False if it already was (its totals are in).

    ``ON CONFLICT DO NOTHING``: on PostgreSQL a second transaction claiming the same id waits
    for the first and then finds the row, so two adopters of one journal add it once.
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(UsageBatch)
        .values(id=batch_id, applied_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(UsageBatch.id)
    )
    return (await session.execute(statement)).first() is not None


async def forget_old_batches(session: AsyncSession, *, now: datetime) -> None:
    """Drop batch ids older than ``BATCHES_KEPT``, so the table stays small."""
    await session.execute(delete(UsageBatch).where(UsageBatch.applied_at < now - BATCHES_KEPT))


async def add_to_buckets(
    session: AsyncSession,
    pending: Sequence[tuple[BucketKey, UsageCounters]],
    *,
    dialect: str,
    width: int = MINUTE,
) -> None:
    """Add ``pending`` to the stored rows of ``width``; the caller owns the transaction.

    One upsert over the rows as parameters (``keyplane.store.batches``); a statement with the
    rows in its VALUES cost 200 ms of the event loop for 500 rows. Rows go in key order, so
    concurrent flushes lock them in one order.
    """
    ordered = sorted(pending, key=lambda item: item[0])
    rows = [_row(key, totals, width) for key, totals in ordered]
    await execute_in_batches(session, _upsert(dialect), rows)


async def add_to_days(
    session: AsyncSession,
    pending: Sequence[tuple[BucketKey, UsageCounters]],
    *,
    dialect: str,
) -> None:
    """Add totals to the day sums of ``usage_days``, in the transaction that adds them to
    ``usage_buckets``, so that both always hold the same usage."""
    await execute_in_batches(session, day_upsert(dialect), day_rows(pending))


def day_rows(pending: Sequence[tuple[BucketKey, UsageCounters]]) -> list[dict[str, Any]]:
    """``pending`` summed by UTC day, project, model, endpoint, upstream and tier, as rows of
    ``usage_days`` in key order (concurrent flushes lock them in one order)."""
    days = summed(
        (
            (
                key.minute - key.minute % DAY,
                key.organization_id,
                key.project_id,
                key.model,
                key.endpoint,
                key.provider,
                key.service_tier,
            ),
            totals,
        )
        for key, totals in pending
    )
    return [
        dict(zip(USAGE_DAY_ROW, (datetime.fromtimestamp(day[0], UTC), *day[1:]), strict=True))
        | {name: getattr(totals, name) for name in COUNTERS}
        for day, totals in sorted(days.items())
    ]


def day_upsert(dialect: str) -> Any:
    """The adding upsert of one ``usage_days`` row."""
    return adding_upsert(cast(Table, UsageDay.__table__), USAGE_DAY_ROW, COUNTERS, dialect)


def _upsert(dialect: str) -> Any:
    return adding_upsert(cast(Table, UsageBucket.__table__), _CONFLICT, COUNTERS, dialect)
