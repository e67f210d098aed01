"""Add minute totals to ``usage_buckets`` with one atomic upsert, on SQLite and PostgreSQL.

``INSERT ... ON CONFLICT (start, width, key, model, endpoint, provider, tier) DO UPDATE SET
n = n + excluded.n``: the database adds, so several instances can flush into the same row
without reading it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.store.models import UsageBucket
from keyplane.usage.counters import COUNTERS, UsageCounters

# Rows per statement: well under SQLite's limit of bound parameters, small enough for PG.
BATCH_ROWS = 500
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


@dataclass(frozen=True, slots=True, order=True)
class BucketKey:
    """Which row a total belongs to; ordered so concurrent flushes lock rows in one order."""

    minute: int
    api_key_id: str
    model: str
    endpoint: str
    provider: str
    service_tier: str
    organization_id: str
    project_id: str


def _row(key: BucketKey, totals: UsageCounters) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(totals, name) for name in COUNTERS}
    row |= {
        "bucket_start": datetime.fromtimestamp(key.minute, UTC),
        "width": MINUTE,
        "organization_id": key.organization_id,
        "project_id": key.project_id,
        "api_key_id": key.api_key_id,
        "model": key.model,
        "endpoint": key.endpoint,
        "provider": key.provider,
        "service_tier": key.service_tier,
    }
    return row


async def add_to_buckets(
    session: AsyncSession, pending: Sequence[tuple[BucketKey, UsageCounters]], *, dialect: str
) -> None:
    """Add ``pending`` to the stored buckets; the caller owns the transaction."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    ordered = sorted(pending, key=lambda item: item[0])
    for start in range(0, len(ordered), BATCH_ROWS):
        rows = [_row(key, totals) for key, totals in ordered[start : start + BATCH_ROWS]]
        statement = insert(UsageBucket).values(rows)
        excluded = statement.excluded
        table = UsageBucket.__table__.c
        statement = statement.on_conflict_do_update(
            index_elements=list(_CONFLICT),
            set_={name: table[name] + excluded[name] for name in COUNTERS},
        )
        await session.execute(statement)
