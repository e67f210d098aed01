"""Budget windows, header formats and estimates — the pure parts of limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyplane.errors import ValidationFailedError
from keyplane.limits.alerts import crossed
from keyplane.limits.backend import BudgetChange, ScopeStatus
from keyplane.limits.estimate import max_output_tokens, prompt_tokens
from keyplane.limits.headers import duration, ratelimit_headers
from keyplane.limits.policy import Budget, Period, parse_budget, window_of


@pytest.mark.parametrize(
    ("period", "now", "window_id", "end"),
    [
        (
            Period.DAY,
            datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC),
            "day:2026-11-29",
            datetime(2026, 11, 30, tzinfo=UTC),
        ),
        (
            Period.MONTH,
            datetime(2026, 12, 31, 12, tzinfo=UTC),
            "month:2026-12",
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
        (
            Period.MONTH,
            datetime(2027, 2, 1, tzinfo=UTC),
            "month:2027-02",
            datetime(2027, 3, 1, tzinfo=UTC),
        ),
        (Period.TOTAL, datetime(2027, 2, 1, tzinfo=UTC), "total", None),
    ],
)
def test_budget_windows_are_calendar_periods_in_utc(
    period: Period, now: datetime, window_id: str, end: datetime | None
) -> None:
    window = window_of(period, now)
    assert window.id == window_id
    assert window.end == end


def test_a_new_window_starts_at_the_boundary() -> None:
    before = window_of(Period.DAY, datetime(2026, 11, 29, 23, 59, 59, 999999, tzinfo=UTC))
    after = window_of(Period.DAY, datetime(2026, 11, 30, 0, 0, 0, tzinfo=UTC))
    assert before.id != after.id
    assert before.end == after.start


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.12, "120ms"),
        (1, "1s"),
        (1.0001, "2s"),
        (58.5, "59s"),
        (59, "59s"),
        (59.2, "1m0s"),
        (360, "6m0s"),
        (3723, "1h2m3s"),
    ],
)
def test_reset_durations_use_openais_format(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_headers_report_the_tightest_scope() -> None:
    statuses = [
        ScopeStatus("key:a", requests_limit=100, requests_remaining=40, requests_reset=3),
        ScopeStatus(
            "project:p",
            requests_limit=10,
            requests_remaining=2,
            requests_reset=30,
            tokens_limit=1000,
            tokens_remaining=900,
            tokens_reset=0.5,
        ),
    ]
    headers = dict(ratelimit_headers(statuses))
    assert headers[b"x-ratelimit-limit-requests"] == b"10"
    assert headers[b"x-ratelimit-remaining-requests"] == b"2"
    assert headers[b"x-ratelimit-reset-requests"] == b"30s"
    assert headers[b"x-ratelimit-remaining-tokens"] == b"900"
    assert headers[b"x-ratelimit-reset-tokens"] == b"500ms"


@pytest.mark.parametrize(
    "seconds", [-1.0, 0.0, 0.0004, 0.5, 1.0, 1.2, 59.5, 60.0, 61.3, 3599.5, 3600.0, 3600.5, 90061.0]
)
def test_a_reset_header_reads_as_its_duration_on_a_single_scope(seconds: float) -> None:
    status = ScopeStatus(
        "key:a",
        requests_limit=10,
        requests_remaining=3,
        requests_reset=seconds,
        tokens_limit=1000,
        tokens_remaining=0,
        tokens_reset=seconds,
    )
    headers = dict(ratelimit_headers([status]))
    assert headers[b"x-ratelimit-reset-requests"] == duration(seconds).encode()
    assert headers[b"x-ratelimit-reset-tokens"] == duration(seconds).encode()
    assert headers[b"x-ratelimit-remaining-tokens"] == b"0"


def test_a_scope_without_a_limit_of_a_kind_reports_none_of_it() -> None:
    only_requests = ScopeStatus("key:a", requests_limit=10, requests_remaining=3, requests_reset=5)
    assert [name for name, _ in ratelimit_headers([only_requests])] == [
        b"x-ratelimit-limit-requests",
        b"x-ratelimit-remaining-requests",
        b"x-ratelimit-reset-requests",
    ]
    assert ratelimit_headers([ScopeStatus("key:a")]) == ()


def test_token_estimate_covers_prompt_and_maximum_output() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 50, "n": 2}
    assert prompt_tokens(body) >= 100
    assert max_output_tokens(body, "chat.completions", 4096) == 100
    assert max_output_tokens({"input": "hi"}, "embeddings", 4096) == 0
    assert max_output_tokens({}, "responses", 4096) == 4096


def test_thresholds_fire_once_when_crossed() -> None:
    budget = Budget(1000, Period.MONTH, (50, 80, 100))
    change = BudgetChange("key:a", "month:x", budget, spent_before=400, spent_after=850)
    assert crossed(change) == [50, 80]
    assert crossed(BudgetChange("key:a", "month:x", budget, 850, 900)) == []
    assert crossed(BudgetChange("key:a", "month:x", budget, 999, 1000)) == [100]


def test_budget_amounts_are_exact_micro_usd() -> None:
    assert parse_budget({"limit_usd": "0.000001"}) == Budget(1, Period.MONTH, ())
    assert parse_budget({"limit_usd": 19.99}).limit_micro_usd == 19_990_000  # type: ignore[union-attr]
    with pytest.raises(ValidationFailedError):
        parse_budget({"limit_usd": True})
