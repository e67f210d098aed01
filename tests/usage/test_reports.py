"""Reports from minute rows: aligned buckets, exact integer sums, grouping, paging."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from keyplane.errors import ValidationFailedError
from keyplane.store.database import Database
from keyplane.usage.reports import (
    USAGE_WIDTHS,
    ReportRequest,
    UsageReports,
    decode_page,
    encode_page,
    plan_page,
)
from support.clock import FakeClock
from support.statements import Statement, recorded
from usage.report_rows import DAY, T0, insert_rows, row

ORG = "org_reports"


@pytest.fixture
def reports(app: FastAPI, clock: FakeClock) -> UsageReports:
    clock.now = datetime.fromtimestamp(T0 + 30 * DAY, UTC)
    service: UsageReports = app.state.runtime.reports
    return service


async def test_if_width_is_1m_then_minutes_sum_into_their_own_buckets(
    app: FastAPI, reports: UsageReports
) -> None:
    await insert_rows(
        app.state.runtime.database,
        [
            row(T0 + 61, organization_id=ORG, input_tokens=5, output_tokens=7),
            row(T0 + 61, organization_id=ORG, model="gpt-4o", input_tokens=1),
            row(T0 + 180, organization_id=ORG, input_tokens=11, cached_tokens=3),
        ],
    )
    report = await reports.usage(
        organization_id=ORG,
        kind="completions",
        request=ReportRequest(start_time=T0, end_time=T0 + 240, bucket_width="1m"),
    )
    assert [b.start_time for b in report.buckets] == [T0, T0 + 60, T0 + 120, T0 + 180]
    assert [b.end_time - b.start_time for b in report.buckets] == [60] * 4
    sums = [[(r.totals.requests, r.totals.input_tokens) for r in b.results] for b in report.buckets]
    assert sums == [[], [(2, 6)], [], [(1, 11)]]
    assert report.buckets[1].results[0].totals.output_tokens == 7
    assert report.buckets[3].results[0].totals.cached_tokens == 3


async def test_if_width_is_1h_then_buckets_start_on_the_hour(
    app: FastAPI, reports: UsageReports
) -> None:
    await insert_rows(
        app.state.runtime.database,
        [
            row(T0 + 3599, organization_id=ORG, input_tokens=1),
            row(T0 + 3600, organization_id=ORG, input_tokens=10),
            row(T0 + 2 * 3600 + 59 * 60, organization_id=ORG, input_tokens=100),
        ],
    )
    report = await reports.usage(
        organization_id=ORG,
        kind="completions",
        request=ReportRequest(start_time=T0 + 1800, end_time=T0 + 3 * 3600, bucket_width="1h"),
    )
    assert [b.start_time for b in report.buckets] == [T0, T0 + 3600, T0 + 7200]
    tokens = [sum(r.totals.input_tokens for r in b.results) for b in report.buckets]
    # The row at T0+3599 is in the minute T0+3540, inside the range [T0+1800, ...).
    assert tokens == [1, 10, 100]


async def test_if_width_is_1d_then_days_align_to_utc_midnight(
    app: FastAPI, reports: UsageReports
) -> None:
    await insert_rows(
        app.state.runtime.database,
        [
            row(T0 + DAY - 60, organization_id=ORG, cost_micro_usd=1),
            row(T0 + DAY, organization_id=ORG, cost_micro_usd=20),
            row(T0 + 2 * DAY + 5 * 3600, organization_id=ORG, cost_micro_usd=300),
        ],
    )
    report = await reports.costs(
        organization_id=ORG, request=ReportRequest(start_time=T0 + 7200, end_time=T0 + 3 * DAY)
    )
    assert [b.start_time for b in report.buckets] == [T0, T0 + DAY, T0 + 2 * DAY]
    assert [[r.totals.cost_micro_usd for r in b.results] for b in report.buckets] == [
        [1],
        [20],
        [300],
    ]


async def test_rows_outside_the_range_or_the_endpoint_kind_are_not_counted(
    app: FastAPI, reports: UsageReports
) -> None:
    await insert_rows(
        app.state.runtime.database,
        [
            row(T0 - 60, organization_id=ORG, input_tokens=1),
            row(T0, organization_id=ORG, input_tokens=10),
            row(T0, organization_id=ORG, endpoint="responses", input_tokens=20),
            row(T0, organization_id=ORG, endpoint="embeddings", input_tokens=400),
            row(T0 + DAY, organization_id=ORG, input_tokens=1000),
        ],
    )
    request = ReportRequest(start_time=T0, end_time=T0 + DAY)
    completions = await reports.usage(organization_id=ORG, kind="completions", request=request)
    embeddings = await reports.usage(organization_id=ORG, kind="embeddings", request=request)
    assert [r.totals.input_tokens for r in completions.buckets[0].results] == [30]
    assert [r.totals.input_tokens for r in embeddings.buckets[0].results] == [400]


async def test_sums_stay_exact_past_32_bits(app: FastAPI, reports: UsageReports) -> None:
    big = 3_000_000_000_123
    await insert_rows(
        app.state.runtime.database,
        [
            row(T0 + i * 60, organization_id=ORG, cost_micro_usd=big, input_tokens=big)
            for i in range(3)
        ],
    )
    report = await reports.costs(
        organization_id=ORG, request=ReportRequest(start_time=T0, end_time=T0 + DAY)
    )
    assert report.buckets[0].results[0].totals.cost_micro_usd == 3 * big


async def test_group_by_returns_one_result_per_combination(
    app: FastAPI, reports: UsageReports
) -> None:
    await insert_rows(
        app.state.runtime.database,
        [
            row(T0, organization_id=ORG, model="m1", api_key_id="k1", input_tokens=1),
            row(T0 + 60, organization_id=ORG, model="m1", api_key_id="k1", input_tokens=2),
            row(T0, organization_id=ORG, model="m1", api_key_id="k2", input_tokens=4),
            row(T0, organization_id=ORG, model="m2", api_key_id="k1", input_tokens=8),
        ],
    )
    report = await reports.usage(
        organization_id=ORG,
        kind="completions",
        request=ReportRequest(
            start_time=T0, end_time=T0 + DAY, group_by=["model", "api_key_id", "model"]
        ),
    )
    found = {
        (r.group["model"], r.group["api_key_id"]): r.totals.input_tokens
        for r in report.buckets[0].results
    }
    assert found == {("m1", "k1"): 3, ("m1", "k2"): 4, ("m2", "k1"): 8}
    assert all(set(r.group) == {"model", "api_key_id"} for r in report.buckets[0].results)


def plan(now: int = T0 + 30 * DAY, **fields: object) -> tuple[list[int], bool, str | None]:
    request = ReportRequest(**{"start_time": T0, **fields})  # type: ignore[arg-type]
    bucket_page = plan_page(request, USAGE_WIDTHS, now=now)
    return bucket_page.bucket_starts, bucket_page.has_more, bucket_page.next_page


def test_default_limit_is_7_days_and_the_cursor_names_the_next_bucket() -> None:
    starts, has_more, page = plan()
    assert starts == [T0 + i * DAY for i in range(7)]
    assert has_more is True
    assert page is not None
    assert decode_page(page) == T0 + 7 * DAY


def test_last_page_is_cut_at_end_time_and_has_no_cursor() -> None:
    starts, has_more, page = plan(end_time=T0 + 9 * DAY + 1, page=encode_page(T0 + 7 * DAY))
    assert starts == [T0 + 7 * DAY, T0 + 8 * DAY, T0 + 9 * DAY]
    assert (has_more, page) == (False, None)


def test_if_start_is_after_now_and_no_end_then_page_is_empty() -> None:
    assert plan(now=T0 - 1) == ([], False, None)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"end_time": T0}, "end_time"),
        ({"end_time": T0 - 60}, "end_time"),
        ({"bucket_width": "1w"}, "bucket_width"),
        ({"limit": 0}, "limit"),
        ({"limit": 32}, "limit"),
        ({"bucket_width": "1h", "limit": 169}, "limit"),
        ({"bucket_width": "1m", "limit": 1441}, "limit"),
        ({"page": "not-a-cursor"}, "page"),
        ({"page": encode_page(T0 + 3600)}, "page"),
        ({"page": encode_page(T0 - DAY)}, "page"),
        ({"page": encode_page(T0 + 40 * DAY)}, "page"),
    ],
)
def test_if_parameter_is_out_of_range_then_422_names_it(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(ValidationFailedError) as raised:
        plan(**fields)
    assert raised.value.param == param


def test_largest_limits_are_accepted_per_width() -> None:
    assert len(plan(bucket_width="1m", limit=1440)[0]) == 1440
    assert len(plan(bucket_width="1h", limit=168)[0]) == 168
    assert len(plan(bucket_width="1d", limit=31)[0]) == 30


async def two_keys_a_day(database: Database, *, days: int) -> None:
    """A call of each of two keys on each of ``days`` days from T0."""
    calls = [
        row(T0 + day * DAY + 60, organization_id=ORG, api_key_id=f"key_{k}")
        for day in range(days)
        for k in range(2)
    ]
    await insert_rows(database, calls)


async def test_a_page_with_too_many_groups_ends_early_and_the_next_page_goes_on(
    app: FastAPI, clock: FakeClock
) -> None:
    """A page by key over a million keys would be a million results built in memory."""
    database = app.state.runtime.database
    await two_keys_a_day(database, days=3)
    clock.now = datetime.fromtimestamp(T0 + 30 * DAY, UTC)
    capped = UsageReports(database, clock=clock, max_results=3)
    request = ReportRequest(
        start_time=T0, end_time=T0 + 3 * DAY, bucket_width="1d", group_by=["api_key_id"]
    )
    pages, page = [], None
    while True:
        report = await capped.usage(
            organization_id=ORG, kind="completions", request=replace(request, page=page)
        )
        pages.append([(b.start_time, len(b.results)) for b in report.buckets])
        if not report.has_more:
            break
        page = report.next_page
    assert pages == [[(T0, 2)], [(T0 + DAY, 2)], [(T0 + 2 * DAY, 2)]]

    one_bucket = UsageReports(database, clock=clock, max_results=1)
    with pytest.raises(ValidationFailedError, match="narrow it with project_ids") as refused:
        await one_bucket.usage(organization_id=ORG, kind="completions", request=request)
    assert refused.value.param == "group_by"


async def test_a_report_by_key_reads_a_bucket_then_two_then_four_until_its_page_is_full(
    app: FastAPI, clock: FakeClock
) -> None:
    """Over a million keys, a page by key holds a few days: it reads those, not the range."""
    database = app.state.runtime.database
    await two_keys_a_day(database, days=7)
    clock.now = datetime.fromtimestamp(T0 + 30 * DAY, UTC)
    request = ReportRequest(
        start_time=T0, end_time=T0 + 7 * DAY, bucket_width="1d", group_by=["api_key_id"]
    )

    def grouping(statements: list[Statement]) -> list[str]:
        return [s.sql for s in statements if "usage_buckets" in s.sql and "GROUP BY" in s.sql]

    with recorded(database) as statements:
        whole = await UsageReports(database, clock=clock).usage(
            organization_id=ORG, kind="completions", request=request
        )
    assert len(grouping(statements)) == 3  # 1 + 2 + 4 buckets
    with recorded(database) as statements:
        capped = await UsageReports(database, clock=clock, max_results=5).usage(
            organization_id=ORG, kind="completions", request=request
        )
    assert len(grouping(statements)) == 2  # 1 + 2 buckets hold 6 groups: the page is full
    assert [len(b.results) for b in whole.buckets] == [2] * 7
    assert [len(b.results) for b in capped.buckets] == [2, 2] and capped.has_more
