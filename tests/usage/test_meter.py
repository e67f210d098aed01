"""The meter: per-minute sums, batched atomic upserts, retry after a failed flush."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from keyplane.config import Settings
from keyplane.store.database import Database
from keyplane.store.models import UsageBucket
from keyplane.usage.meter import MAX_COST_MICRO_USD, Meter
from keyplane.usage.records import (
    MAX_TOKENS,
    Tokens,
    UsageRecord,
    tokens_from_body,
    tokens_from_usage,
)
from support.statements import recorded

MINUTE = 1_800_000_000 // 60 * 60


def record(status: int = 200, *, model: str = "gpt-4o", priced: bool = True) -> UsageRecord:
    return UsageRecord(
        minute=MINUTE,
        organization_id="org_1",
        project_id="proj_1",
        api_key_id="key_1",
        model=model,
        endpoint="chat.completions",
        tokens=Tokens(input=10, output=5, cached=2),
        cost_micro_usd=7,
        priced=priced,
        status=status,
        latency_ms=3,
    )


async def _rows(database: Database) -> list[UsageBucket]:
    async with database.session() as session:
        return list((await session.execute(select(UsageBucket))).scalars())


async def test_two_meters_add_into_the_same_bucket(settings: Settings) -> None:
    database = Database(settings.resolved_database_url)
    try:
        first, second = Meter(database), Meter(database)
        first.record(record())
        first.record(record(500))
        second.record(record(priced=False))
        assert await first.flush() == 1
        assert await second.flush() == 1
        assert await first.flush() == 0
        [row] = await _rows(database)
        assert (row.requests, row.error_requests, row.unpriced_requests) == (3, 1, 1)
        assert (row.input_tokens, row.output_tokens, row.cached_tokens) == (30, 15, 6)
        assert (row.cost_micro_usd, row.latency_ms_total) == (21, 9)
    finally:
        await database.close()


async def test_a_flush_of_many_rows_runs_one_prepared_statement_per_batch(
    settings: Settings,
) -> None:
    """Rows are parameters of one cached statement, not literals of a new one: compiling a
    2,000-row VALUES statement on the event loop stalled every call for 200 ms."""
    database = Database(settings.resolved_database_url)
    try:
        meter = Meter(database)
        for index in range(1_000):
            meter.record(replace(record(), api_key_id=f"key_{index}"))
        with recorded(database) as seen:
            assert await meter.flush() == 1_000
        statements = [
            (sql, many)
            for sql, many in seen
            if "usage_buckets" in sql and sql.lstrip().upper().startswith("INSERT")
        ]
        assert len(statements) == 5  # BATCH_ROWS (200) a batch
        assert all(many for _, many in statements)
        assert len({sql for sql, _ in statements}) == 1
        assert len(await _rows(database)) == 1_000
    finally:
        await database.close()


async def test_failed_flush_keeps_the_data_for_the_next_try(tmp_path: Path) -> None:
    broken = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    meter = Meter(broken)
    meter.record(record())
    with pytest.raises(OperationalError):
        await meter.flush()
    meter.record(record())
    assert meter.pending == 2  # the failed batch, kept as it was, and the next call
    await broken.close()


async def test_stop_flushes_everything(settings: Settings) -> None:
    database = Database(settings.resolved_database_url)
    try:
        meter = Meter(database, interval_seconds=3600)
        meter.start()
        meter.record(record())
        await meter.stop()
        assert [row.requests for row in await _rows(database)] == [1]
    finally:
        await database.close()


def test_tokens_are_read_from_every_usage_shape() -> None:
    chat = {
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 4,
            "prompt_tokens_details": {"cached_tokens": 3},
        }
    }
    responses = {
        "usage": {
            "input_tokens": 8,
            "output_tokens": 2,
            "input_tokens_details": {"cached_tokens": 1},
        }
    }
    assert tokens_from_body(chat) == Tokens(9, 4, 3)
    assert tokens_from_body(responses) == Tokens(8, 2, 1)
    assert tokens_from_body({"usage": {"prompt_tokens": 5, "total_tokens": 5}}) == Tokens(5)
    assert tokens_from_body({"usage": None}) == Tokens()
    assert tokens_from_body([1]) == Tokens()


@pytest.mark.parametrize(
    ("value", "counted"),
    [
        (10**19, MAX_TOKENS),
        (-5, 0),
        (3.2, 4),
        (12.0, 12),
        (float("nan"), 0),
        (float("inf"), 0),
        ("12", 12),
        ("9" * 5000, MAX_TOKENS),
        ("twelve", 0),
        (True, 0),
        ([1], 0),
    ],
)
def test_odd_usage_values_are_clamped_or_dropped(value: object, counted: int) -> None:
    assert tokens_from_usage({"prompt_tokens": value, "completion_tokens": 3}) == Tokens(counted, 3)


async def test_odd_usage_values_are_counted_once_each(settings: Settings) -> None:
    database = Database(settings.resolved_database_url)
    meter = Meter(database, interval_seconds=3600)
    meter.start()
    try:
        tokens_from_usage({"prompt_tokens": 10**19, "completion_tokens": "x"})
        tokens_from_usage({"prompt_tokens": 5, "completion_tokens": None})  # null is no oddity
        assert meter.odd_values == 2
    finally:
        await meter.stop()
        await database.close()


async def test_a_poisoned_record_is_clamped_and_the_others_are_written(
    settings: Settings,
) -> None:
    database = Database(settings.resolved_database_url)
    try:
        meter = Meter(database)
        poisoned = replace(record(), tokens=Tokens(input=10**19), cost_micro_usd=10**30)
        meter.record(poisoned)
        meter.record(replace(record(), api_key_id="key_2"))
        assert await meter.flush() == 2
        rows = {row.api_key_id: row for row in await _rows(database)}
        assert (rows["key_1"].input_tokens, rows["key_1"].cost_micro_usd) == (
            MAX_TOKENS,
            MAX_COST_MICRO_USD,
        )
        assert rows["key_2"].input_tokens == 10
        assert meter.odd_values == 1
    finally:
        await database.close()
