"""Roll-ups: minutes past retention fold into hours and days; every total stays the same."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from keyplane.config import Settings
from keyplane.errors import ValidationFailedError
from keyplane.store.database import Database
from keyplane.store.models import AuditEvent, UsageBucket, UsageDay
from keyplane.usage.buckets import DAY
from keyplane.usage.counters import COUNTERS
from keyplane.usage.pages import ReportRequest
from keyplane.usage.reports import UsageReports
from keyplane.usage.rollup import HOUR, Retention, RollUp
from support.clock import FakeClock
from usage.report_rows import T0, insert_rows, row

ORG = "org_rollup"
NOW = T0 + 200 * DAY  # a Monday, 200 days after T0
RETENTION = Retention(minutes=timedelta(days=2), hours=timedelta(days=30))


def spread_rows() -> list[dict[str, Any]]:
    """Minute rows over the 120 days before NOW: two keys, two models, every counter set."""
    rows = []
    for i in range(240):
        at = NOW - 120 * DAY + i * (DAY // 2) + (i % 7) * 60 + 17
        rows.append(
            row(
                at,
                organization_id=ORG,
                api_key_id=f"key_{i % 2}",
                project_id=f"proj_{i % 2}",
                model="gpt-4o" if i % 3 else "o3",
                requests=1 + i % 4,
                error_requests=i % 2,
                input_tokens=100 + i,
                output_tokens=10 + i,
                cached_tokens=i % 5,
                cost_micro_usd=1000 + 7 * i,
                latency_ms_total=30 + i,
                reasoning_tokens=i % 3,
                estimated_requests=i % 2,
            )
        )
    return rows


@pytest.fixture
def reports(app: FastAPI, clock: FakeClock) -> UsageReports:
    clock.now = datetime.fromtimestamp(NOW, UTC)
    service: UsageReports = app.state.runtime.reports
    return service


def database_of(app: FastAPI) -> Database:
    database: Database = app.state.runtime.database
    return database


async def totals(database: Database, since: int = 0) -> dict[str, int]:
    """Every counter summed over the rows that start at ``since`` or later."""
    query = select(*(func.sum(getattr(UsageBucket, name)) for name in COUNTERS)).where(
        UsageBucket.bucket_start >= datetime.fromtimestamp(since, UTC)
    )
    async with database.session() as session:
        sums = (await session.execute(query)).one()
    return {name: int(value or 0) for name, value in zip(COUNTERS, sums, strict=True)}


async def widths(database: Database) -> dict[int, int]:
    query = select(UsageBucket.width, func.count()).group_by(UsageBucket.width)
    async with database.session() as session:
        return {int(w): int(n) for w, n in await session.execute(query)}


async def daily(reports: UsageReports, group_by: list[str]) -> list[tuple[int, str, int, int]]:
    """(day, group, input tokens, cost) of a 1d report over the 120 days, all pages."""
    out, page = [], None
    while True:
        report = await reports.usage(
            organization_id=ORG,
            kind="completions",
            request=ReportRequest(
                start_time=NOW - 120 * DAY,
                end_time=NOW,
                bucket_width="1d",
                group_by=group_by,
                limit=31,
                page=page,
            ),
        )
        for bucket in report.buckets:
            for result in bucket.results:
                group = ",".join(result.group.values())
                totals_ = result.totals
                out.append((bucket.start_time, group, totals_.input_tokens, totals_.cost_micro_usd))
        if not report.has_more:
            return out
        page = report.next_page


async def test_a_roll_up_keeps_every_total_and_every_daily_report_the_same(
    app: FastAPI, reports: UsageReports, clock: FakeClock
) -> None:
    database = database_of(app)
    await insert_rows(database, spread_rows())
    before = await totals(database)
    by_key = await daily(reports, ["api_key_id", "model"])
    by_project = await daily(reports, ["project_id"])
    month = await totals(database, since=NOW - 19 * DAY)  # an aligned window, as budgets use

    folded = await RollUp(database, retention=RETENTION, clock=clock, batch_rows=50).run_once()

    assert folded > 240  # minutes into hours, then those hours again into days
    assert set(await widths(database)) == {60, HOUR, DAY}
    assert await totals(database) == before
    assert await totals(database, since=NOW - 19 * DAY) == month
    assert await daily(reports, ["api_key_id", "model"]) == by_key
    assert await daily(reports, ["project_id"]) == by_project


async def test_only_rows_past_their_retention_are_folded(
    app: FastAPI, reports: UsageReports, clock: FakeClock
) -> None:
    database = database_of(app)
    await insert_rows(database, spread_rows())
    await RollUp(database, retention=RETENTION, clock=clock).run_once()
    query = select(UsageBucket.width, func.min(UsageBucket.bucket_start)).group_by(
        UsageBucket.width
    )
    async with database.session() as session:
        oldest = {int(w): start for w, start in await session.execute(query)}
    now = clock()
    assert oldest[60] >= now - timedelta(days=2, hours=1)
    assert oldest[HOUR] >= now - timedelta(days=31)
    assert min(oldest.values()) == oldest[DAY]


async def test_late_minutes_are_added_to_the_hour_already_rolled_up(
    app: FastAPI, reports: UsageReports, clock: FakeClock
) -> None:
    database = database_of(app)
    hour = NOW - 10 * DAY + 5 * HOUR
    await insert_rows(database, [row(hour + 60, organization_id=ORG, input_tokens=5)])
    rollup = RollUp(database, retention=RETENTION, clock=clock)
    await rollup.run_once()
    # A journal replayed after an outage brings two more minutes of that hour.
    await insert_rows(
        database,
        [
            row(hour + 120, organization_id=ORG, input_tokens=7),
            row(hour + 3540, organization_id=ORG, input_tokens=11),
        ],
    )
    await rollup.run_once()
    query = select(UsageBucket.bucket_start, UsageBucket.width, UsageBucket.input_tokens)
    async with database.session() as session:
        stored = [tuple(r) for r in await session.execute(query)]
    assert stored == [(datetime.fromtimestamp(hour, UTC), HOUR, 23)]


async def test_two_instances_rolling_up_at_once_count_nothing_twice(
    app: FastAPI, reports: UsageReports, clock: FakeClock
) -> None:
    database = database_of(app)
    await insert_rows(database, spread_rows())
    before = await totals(database)
    other = Database(database.url)
    try:
        first = RollUp(database, retention=RETENTION, clock=clock, batch_rows=7)
        second = RollUp(other, retention=RETENTION, clock=clock, batch_rows=7)
        await asyncio.gather(first.run_once(), second.run_once())
    finally:
        await other.close()
    assert await totals(database) == before
    # Between them they folded everything that was due.
    assert await RollUp(database, retention=RETENTION, clock=clock).run_once() == 0


async def test_each_batch_folds_at_most_batch_rows(
    app: FastAPI, reports: UsageReports, clock: FakeClock
) -> None:
    database = database_of(app)
    old = NOW - 10 * DAY
    await insert_rows(
        database, [row(old + i * 60, organization_id=ORG, input_tokens=i) for i in range(30)]
    )
    rollup = RollUp(database, retention=RETENTION, clock=clock, batch_rows=7)
    cutoff = datetime.fromtimestamp(NOW - 2 * DAY, UTC)
    folded = [await rollup.fold(60, HOUR, before=cutoff) for _ in range(6)]
    assert folded == [7, 7, 7, 7, 2, 0]
    assert (await totals(database))["input_tokens"] == sum(range(30))


async def test_a_report_finer_than_what_is_kept_says_which_widths_can_answer(
    app: FastAPI, reports: UsageReports, clock: FakeClock
) -> None:
    database = database_of(app)
    await insert_rows(database, spread_rows())
    await RollUp(database, retention=RETENTION, clock=clock).run_once()
    old = ReportRequest(start_time=NOW - 60 * DAY, end_time=NOW - 59 * DAY, bucket_width="1h")
    with pytest.raises(ValidationFailedError) as refused:
        await reports.usage(organization_id=ORG, kind="completions", request=old)
    message = str(refused.value)
    assert "kept by the day" in message
    assert "KEYPLANE_USAGE_HOUR_RETENTION_DAYS" in message
    assert "bucket_width=1d" in message
    # Recent minutes still answer a 1m report, and old hours a 1h one.
    recent = ReportRequest(start_time=NOW - 3600, end_time=NOW, bucket_width="1m")
    await reports.usage(organization_id=ORG, kind="completions", request=recent)
    hours = ReportRequest(start_time=NOW - 20 * DAY, end_time=NOW - 19 * DAY, bucket_width="1h")
    await reports.usage(organization_id=ORG, kind="completions", request=hours)


async def test_day_rows_past_their_retention_are_dropped(
    app: FastAPI, reports: UsageReports, clock: FakeClock
) -> None:
    database = database_of(app)
    await insert_rows(database, spread_rows())
    keep_100_days = Retention(
        minutes=timedelta(days=2), hours=timedelta(days=30), days=timedelta(days=100)
    )
    await RollUp(database, retention=keep_100_days, clock=clock).run_once()
    async with database.session() as session:
        oldest = await session.scalar(select(func.min(UsageBucket.bucket_start)))
        oldest_sum = await session.scalar(select(func.min(UsageDay.day)))
    assert oldest is not None and oldest >= clock() - timedelta(days=100)
    assert oldest_sum == oldest  # reports of projects and of keys end at the same day


async def test_housekeeping_prunes_audit_events_past_their_retention(
    app: FastAPI, clock: FakeClock
) -> None:
    from keyplane.audit.log import AuditLog
    from keyplane.runtime.housekeeping import Housekeeping

    database = database_of(app)
    async with database.session() as session, session.begin():
        for days_ago in (400, 200, 10):
            session.add(
                AuditEvent(
                    organization_id=(await _organization(database)),
                    type="project.created",
                    actor_type="system",
                    created_at=clock() - timedelta(days=days_ago),
                )
            )
    housekeeping = Housekeeping(
        RollUp(database, retention=RETENTION, clock=clock),
        AuditLog(database),
        audit_retention=timedelta(days=365),
        interval_seconds=3600,
        clock=clock,
    )
    await housekeeping.run_once()
    async with database.session() as session:
        ages = [
            (clock() - created).days
            for created in (await session.execute(select(AuditEvent.created_at))).scalars()
        ]
    assert 400 not in ages
    assert {200, 10} <= set(ages)


async def _organization(database: Database) -> str:
    from keyplane.services.bootstrap import bootstrap

    return (await bootstrap(database, brand="kp")).organization_id


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"usage_minute_retention_days": 10, "usage_hour_retention_days": 5}, "HOUR_RETENTION"),
        ({"usage_hour_retention_days": 30, "usage_day_retention_days": 20}, "DAY_RETENTION"),
    ],
)
def test_retention_tiers_must_grow_from_minutes_to_days(given: dict[str, int], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Settings(_env_file=None, **given)  # type: ignore[arg-type]
