"""Day sums: ``usage_days`` holds what ``usage_buckets`` holds, without the key.

Daily reports that are neither grouped nor filtered by key or user read their whole days from
it; every such report must equal the same report grouped by key and summed, whatever the
roll-up has folded and wherever the range starts or ends.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from keyplane.config import Settings
from keyplane.store.database import Database
from keyplane.store.models import UsageBucket, UsageDay
from keyplane.usage.buckets import DAY
from keyplane.usage.counters import COUNTERS
from keyplane.usage.meter import Meter
from keyplane.usage.pages import ReportRequest
from keyplane.usage.records import Tokens, UsageRecord
from keyplane.usage.reports import Report, UsageReports
from keyplane.usage.rollup import Retention, RollUp
from support.clock import FakeClock
from support.statements import recorded
from usage.report_rows import T0, insert_rows, row

ORG = "org_days"
NOW = T0 + 60 * DAY + 13 * 3600 + 7 * 60  # 13:07 on a day, 60 days after T0


def usage_rows() -> list[dict[str, object]]:
    """Minute rows over the 40 days before NOW, every few hours: three keys in two projects,
    two models, two upstreams, and another organisation's rows that no report may count."""
    rows = []
    for i in range(40 * 8):
        at = NOW - 40 * DAY + i * 3 * 3600 + (i % 11) * 60
        ours = i % 9 != 0
        rows.append(
            row(
                at,
                organization_id=ORG if ours else "org_other",
                # A key belongs to one project of one organisation.
                project_id=("proj_0" if i % 3 < 2 else "proj_1") if ours else "proj_other",
                api_key_id=f"key_{i % 3}" if ours else "key_other",
                model="gpt-4o" if i % 4 else "o3",
                provider="openai" if i % 5 else "azure",
                requests=1 + i % 3,
                input_tokens=100 + i,
                output_tokens=7 * i,
                cost_micro_usd=1_000 + 13 * i,
            )
        )
    return rows


@pytest.fixture
def reports(app: FastAPI, clock: FakeClock) -> UsageReports:
    clock.now = datetime.fromtimestamp(NOW, UTC)
    service: UsageReports = app.state.runtime.reports
    return service


def flattened(report: Report, keep: tuple[str, ...]) -> Counter[tuple[object, ...]]:
    """Every (bucket, kept groups, counter) with its sum: groups not kept are summed over."""
    sums: Counter[tuple[object, ...]] = Counter()
    for bucket in report.buckets:
        for result in bucket.results:
            group = tuple(result.group[name] for name in keep)
            for name in ("requests", "input_tokens", "output_tokens", "cost_micro_usd"):
                sums[(bucket.start_time, *group, name)] += getattr(result.totals, name)
    return sums


RANGES = {
    "whole days": (NOW - 30 * DAY - 13 * 3600 - 7 * 60, NOW - 3 * DAY - 13 * 3600 - 7 * 60),
    "starts and ends inside a day": (NOW - 30 * DAY, NOW - 3 * DAY),
    "reaches now": (NOW - 30 * DAY + 5 * 3600, None),
    "one part day": (NOW - 5 * DAY + 3600, NOW - 5 * DAY + 6 * 3600),
}


@pytest.mark.parametrize("span", RANGES.values(), ids=RANGES.keys())
async def test_a_report_by_project_is_the_report_by_key_summed(
    app: FastAPI, reports: UsageReports, clock: FakeClock, span: tuple[int, int | None]
) -> None:
    database: Database = app.state.runtime.database
    await insert_rows(database, usage_rows())
    # Minutes older than two days become hours, hours older than fourteen days become days.
    retention = Retention(minutes=timedelta(days=2), hours=timedelta(days=14))
    assert await RollUp(database, retention=retention, clock=clock, batch_rows=64).run_once()
    start, end = span

    def request(*groups: str) -> ReportRequest:
        return ReportRequest(
            start_time=start, end_time=end, bucket_width="1d", group_by=groups, limit=31
        )

    for keep in (("project_id",), ("model", "provider"), ()):
        by_day = await reports.usage(
            organization_id=ORG, kind="completions", request=request(*keep)
        )
        by_key = await reports.usage(
            organization_id=ORG, kind="completions", request=request(*keep, "api_key_id")
        )
        assert flattened(by_day, keep) == flattened(by_key, keep)
        assert sum(flattened(by_day, keep).values()) > 0
    costs = await reports.costs(organization_id=ORG, request=request("line_item"))
    costs_by_key = await reports.costs(
        organization_id=ORG, request=request("line_item", "api_key_id")
    )
    assert flattened(costs, ("line_item",)) == flattened(costs_by_key, ("line_item",))


async def test_only_reports_by_key_or_user_read_every_row(
    app: FastAPI, reports: UsageReports
) -> None:
    """A report over a million keys reads a row per project, model and day, not per key."""
    database: Database = app.state.runtime.database
    await insert_rows(database, usage_rows())
    month = ReportRequest(start_time=NOW - 30 * DAY, bucket_width="1d", limit=31)
    asked = {
        "by project": replace(month, group_by=["project_id"]),
        "one project by model": replace(month, group_by=["model"], project_ids=["proj_1"]),
        "by key": replace(month, group_by=["api_key_id"]),
        "one key": replace(month, api_key_ids=["key_1"]),
        "one person": replace(month, user_ids=["user_1"]),
    }
    read = {}
    for name, request in asked.items():
        with recorded(database) as statements:
            await reports.usage(organization_id=ORG, kind="completions", request=request)
        selects = [s.sql for s in statements if s.sql.lstrip().upper().startswith("SELECT")]
        read[name] = {t for t in ("usage_days", "usage_buckets") for sql in selects if t in sql}
    assert read == {
        "by project": {"usage_days", "usage_buckets"},  # the part day the range starts in
        "one project by model": {"usage_days", "usage_buckets"},
        "by key": {"usage_buckets"},
        "one key": {"usage_buckets"},
        "one person": {"usage_buckets"},
    }


async def _day_sums(
    database: Database, table: type[UsageBucket] | type[UsageDay]
) -> Counter[tuple[object, ...]]:
    """Each counter summed by UTC day, project, model and endpoint."""
    start = UsageBucket.bucket_start if table is UsageBucket else UsageDay.day
    grouped = (table.project_id, table.model, table.endpoint)
    query = select(start, *grouped, *(func.sum(getattr(table, n)) for n in COUNTERS)).group_by(
        start, *grouped
    )
    async with database.session() as session:
        rows = (await session.execute(query)).all()
    sums: Counter[tuple[object, ...]] = Counter()
    for found in rows:
        moment = int(found[0].timestamp())
        for name, value in zip(COUNTERS, found[4:], strict=True):
            sums[(moment - moment % DAY, *found[1:4], name)] += int(value)
    return sums


async def test_each_flush_adds_to_the_day_sums_in_its_transaction(settings: Settings) -> None:
    database = Database(settings.resolved_database_url)
    day = 1_800_000_000 // DAY * DAY
    try:
        meter = Meter(database)
        for i in range(300):  # minutes either side of a midnight, five keys, two projects
            meter.record(
                UsageRecord(
                    minute=day - 150 * 60 + i * 60,
                    organization_id="org_1",
                    project_id=f"proj_{i % 2}",
                    api_key_id=f"key_{i % 5}",
                    model="gpt-4o",
                    endpoint="chat.completions",
                    tokens=Tokens(input=10 + i, output=i),
                    cost_micro_usd=3 * i,
                    priced=True,
                    status=200 if i % 7 else 500,
                    latency_ms=i,
                )
            )
        assert await meter.flush() == 300
        assert await meter.flush() == 0  # nothing is added twice
        days = await _day_sums(database, UsageDay)
        assert days == await _day_sums(database, UsageBucket)
        async with database.session() as session:
            assert await session.scalar(select(func.count()).select_from(UsageDay)) == 4
    finally:
        await database.close()


async def test_budgets_of_projects_and_organisations_count_from_the_day_sums(
    settings: Settings,
) -> None:
    """A budget's window starts at midnight: a project's or organisation's spend in it is read
    from the day sums (a month of a million keys' rows would outlast the store's deadline),
    and is what its keys spent, stored or still held by the meter."""
    database = Database(settings.resolved_database_url)
    midnight = datetime.fromtimestamp(1_800_000_000 // DAY * DAY, UTC)
    try:
        meter = Meter(database)
        for i, minute in enumerate((-3600, 60, 7200, 9000)):  # one the day before
            meter.record(
                UsageRecord(
                    minute=int(midnight.timestamp()) + minute,
                    organization_id="org_1",
                    project_id="proj_1",
                    api_key_id=f"key_{i % 2}",
                    model="gpt-4o",
                    endpoint="chat.completions",
                    tokens=Tokens(input=1, output=1),
                    cost_micro_usd=10**i,
                    priced=True,
                    status=200,
                    latency_ms=1,
                )
            )
            if i == 2:
                await meter.flush()  # the last call is still held
        with recorded(database) as seen:
            spent = {
                "project": await meter.spent(since=midnight, project_id="proj_1"),
                "organisation": await meter.spent(since=midnight, organization_id="org_1"),
                "key_0": await meter.spent(since=midnight, api_key_id="key_0"),
                "key_1": await meter.spent(since=midnight, api_key_id="key_1"),
                "requests": await meter.requests(
                    since=midnight, project_id="proj_1", model="gpt-4o"
                ),
            }
        statements = [s.sql for s in seen if "sum(" in s.sql.lower()]
        assert spent == {
            "project": 1110,
            "organisation": 1110,
            "key_0": 100,
            "key_1": 1010,
            "requests": 3,
        }
        read = ["usage_days" if "usage_days" in sql else "usage_buckets" for sql in statements]
        assert read == ["usage_days", "usage_days", "usage_buckets", "usage_buckets", "usage_days"]
    finally:
        await database.close()
