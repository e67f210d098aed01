"""One bag of usage counters: what the meter stores, reports sum and the surfaces show."""

from __future__ import annotations

from keyplane.store.models import UsageBucket
from keyplane.usage.counters import COUNTERS, UsageCounters
from keyplane.usage.reports import METRICS


def test_add_sums_every_counter_in_place() -> None:
    counters = UsageCounters(requests=1, input_tokens=2, latency_ms_total=3)
    counters.add(UsageCounters(requests=4, output_tokens=5, latency_ms_total=6))
    assert counters == UsageCounters(
        requests=5, input_tokens=2, output_tokens=5, latency_ms_total=9
    )


def test_tokens_are_input_plus_output() -> None:
    assert UsageCounters(input_tokens=3, output_tokens=4, cached_tokens=2).tokens == 7


def test_every_counter_and_report_metric_is_a_usage_buckets_column() -> None:
    columns = set(UsageBucket.__table__.c.keys())
    assert set(COUNTERS) <= columns
    assert set(METRICS) <= set(COUNTERS)
