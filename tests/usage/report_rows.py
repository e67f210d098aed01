"""Write ``usage_buckets`` rows straight into a store, as the meter would have: with their
day sums in ``usage_days``, in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session

from keyplane.store.database import Database
from keyplane.store.models import UsageBucket
from keyplane.usage.buckets import BucketKey, add_to_days, day_rows, day_upsert
from keyplane.usage.counters import COUNTERS, UsageCounters

DAY = 86400
# A Monday at midnight UTC: every width's buckets start here.
T0 = 1767571200


def row(
    at: int,
    *,
    organization_id: str,
    project_id: str = "proj_a",
    api_key_id: str = "key_a",
    model: str = "gpt-4o-mini",
    endpoint: str = "chat.completions",
    provider: str = "",
    **counts: int,
) -> dict[str, Any]:
    """One minute row at Unix second ``at`` (floored to the minute); unnamed counts are 0."""
    values = {
        "requests": 1,
        "error_requests": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_tokens": 0,
        "cost_micro_usd": 0,
        "unpriced_requests": 0,
        "latency_ms_total": 0,
    }
    values.update(counts)
    return {
        "bucket_start": datetime.fromtimestamp(at - at % 60, UTC),
        "organization_id": organization_id,
        "project_id": project_id,
        "api_key_id": api_key_id,
        "model": model,
        "endpoint": endpoint,
        "provider": provider,
        **values,
    }


def _pending(rows: Sequence[dict[str, Any]]) -> list[tuple[BucketKey, UsageCounters]]:
    return [
        (
            BucketKey(
                int(r["bucket_start"].timestamp()),
                r["api_key_id"],
                r["model"],
                r["endpoint"],
                r.get("provider", ""),
                r.get("service_tier", ""),
                r["organization_id"],
                r["project_id"],
            ),
            UsageCounters(**{name: r.get(name, 0) for name in COUNTERS}),
        )
        for r in rows
    ]


async def insert_rows(database: Database, rows: Sequence[dict[str, Any]]) -> None:
    async with database.session() as session, session.begin():
        await session.execute(insert(UsageBucket), list(rows))
        await add_to_days(session, _pending(rows), dialect=database.engine.dialect.name)


def insert_rows_into_file(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Insert into a server's SQLite file while the server runs (WAL allows it)."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
    try:
        with Session(engine) as session, session.begin():
            session.execute(insert(UsageBucket), list(rows))
            session.execute(day_upsert("sqlite"), day_rows(_pending(rows)))
    finally:
        engine.dispose()


def sample_rows(organization_id: str) -> list[dict[str, Any]]:
    """Two projects, two keys, three models over three days, and another organisation's row.

    Costs in micro-USD: 1 + 2,500,000 + 123,457 + 16 = 2,623,474 for ``organization_id``.
    """
    org = organization_id
    return [
        row(T0 + 60, organization_id=org, input_tokens=100, output_tokens=10, cost_micro_usd=1),
        row(
            T0 + 3600,
            organization_id=org,
            model="gpt-4o",
            endpoint="responses",
            input_tokens=200,
            output_tokens=20,
            cached_tokens=50,
            cost_micro_usd=2_500_000,
        ),
        row(
            T0 + DAY + 3600,
            organization_id=org,
            project_id="proj_b",
            api_key_id="key_b",
            requests=3,
            error_requests=1,
            input_tokens=400,
            output_tokens=40,
            cost_micro_usd=123_457,
        ),
        row(
            T0 + 2 * DAY,
            organization_id=org,
            model="text-embedding-3-small",
            endpoint="embeddings",
            input_tokens=800,
            cost_micro_usd=16,
            unpriced_requests=1,
        ),
        row(
            T0 + 60,
            organization_id="org_other",
            project_id="proj_other",
            api_key_id="key_other",
            input_tokens=9999,
            cost_micro_usd=9999,
        ),
    ]
