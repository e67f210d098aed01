"""Reports from minute rows: aligned buckets, exact integer sums, grouping, paging."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from keyplane.errors import ValidationFailedError
from keyplane.store.database import Database
from keyplane.usage.pages import USAGE_WIDTHS, ReportRequest, decode_page, encode_page, plan_page
from keyplane.usage.reports import UsageReports
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
    assert decode_page(page) == (T0 + 7 * DAY, ())


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


async def keys_a_day(database: Database, *, days: int, keys: int = 2) -> None:
    """A call of each of ``keys`` keys, with two models, on each of ``days`` days from T0."""
    calls = [
        row(T0 + day * DAY + 60, organization_id=ORG, api_key_id=f"key_{k}", model=model)
        for day in range(days)
        for k in range(keys)
        for model in ("gpt-4o", "gpt-4o-mini")
    ]
    await insert_rows(database, calls)


async def days_by_key(
    app: FastAPI, clock: FakeClock, *, days: int, keys: int = 2, group_by: Sequence[str] = ()
) -> tuple[Database, ReportRequest]:
    """``keys_a_day`` for ``days``, seen a month later, and the daily report of those days
    grouped by ``group_by`` (by key if none)."""
    database: Database = app.state.runtime.database
    await keys_a_day(database, days=days, keys=keys)
    clock.now = datetime.fromtimestamp(T0 + 30 * DAY, UTC)
    request = ReportRequest(
        start_time=T0,
        end_time=T0 + days * DAY,
        bucket_width="1d",
        group_by=group_by or ["api_key_id"],
    )
    return database, request


async def every_page(reports: UsageReports, request: ReportRequest) -> list[list[tuple[Any, ...]]]:
    """Each page's (bucket start, groups) of ``request``, following ``next_page``."""
    pages, page = [], None
    for _ in range(50):
        report = await reports.usage(
            organization_id=ORG, kind="completions", request=replace(request, page=page)
        )
        pages.append([(b.start_time, [dict(r.group) for r in b.results]) for b in report.buckets])
        if not report.has_more:
            return pages
        page = report.next_page
    raise AssertionError("the pages do not end")


async def test_a_page_with_too_many_groups_ends_at_a_whole_bucket_and_the_next_goes_on(
    app: FastAPI, clock: FakeClock
) -> None:
    """A page by key over a million keys would be a million results built in memory."""
    database, request = await days_by_key(app, clock, days=3)
    pages = await every_page(UsageReports(database, clock=clock, max_results=3), request)
    assert [[(start, len(groups)) for start, groups in page] for page in pages] == [
        [(T0, 2)],
        [(T0 + DAY, 2)],
        [(T0 + 2 * DAY, 2)],
    ]


@pytest.mark.parametrize("group_by", [["api_key_id"], ["api_key_id", "model"]])
async def test_a_bucket_with_more_groups_than_a_page_goes_on_in_group_order_on_the_next(
    app: FastAPI, clock: FakeClock, group_by: list[str]
) -> None:
    """Every group of a split bucket is on exactly one page, in the order of the groups."""
    database, request = await days_by_key(app, clock, days=2, keys=5, group_by=group_by)
    whole = await every_page(UsageReports(database, clock=clock), request)
    split = await every_page(UsageReports(database, clock=clock, max_results=3), request)

    per_bucket = len(whole[0][0][1])
    assert per_bucket == (5 if group_by == ["api_key_id"] else 10)
    assert len(whole) == 1 and len(split) == 2 * -(-per_bucket // 3)
    assert all(len(page) == 1 for page in split)  # a bucket at a time, as none fits whole
    joined: dict[int, list[dict[str, str]]] = {}
    for page in split:
        for start, groups in page:
            joined.setdefault(start, []).extend(groups)
    assert joined == dict(whole[0])


async def test_a_cursor_of_a_split_bucket_belongs_to_its_group_by(
    app: FastAPI, clock: FakeClock
) -> None:
    database, request = await days_by_key(app, clock, days=1, keys=5)
    reports = UsageReports(database, clock=clock, max_results=2)
    first = await reports.usage(organization_id=ORG, kind="completions", request=request)
    assert first.next_page is not None
    assert decode_page(first.next_page) == (T0, ("key_1",))

    other = replace(request, group_by=["api_key_id", "model"], page=first.next_page)
    with pytest.raises(ValidationFailedError, match="same start_time") as refused:
        await reports.usage(organization_id=ORG, kind="completions", request=other)
    assert refused.value.param == "page"


@pytest.mark.parametrize(
    "text", ["bucket:1767225600:[1]", "bucket:1767225600:{}", "bucket:1767225600:[", "bucket:x"]
)
def test_a_cursor_keyplane_did_not_issue_is_refused(text: str) -> None:
    page = base64.urlsafe_b64encode(text.encode()).decode()
    with pytest.raises(ValidationFailedError, match="not a cursor keyplane issued"):
        decode_page(page)


async def test_a_report_by_key_reads_a_bucket_then_as_many_as_its_page_has_room_for(
    app: FastAPI, clock: FakeClock
) -> None:
    """Over a million keys, a page by key holds a few days: it reads those, not the range."""
    database, request = await days_by_key(app, clock, days=7)

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
    # 2 groups in the first bucket, room for 3 more: it reads one more bucket, not two, and
    # stops there, as a third is not expected to fit.
    assert len(grouping(statements)) == 2
    assert [len(b.results) for b in whole.buckets] == [2] * 7
    assert [len(b.results) for b in capped.buckets] == [2, 2] and capped.has_more
