"""The integer counters of usage, named as the columns of ``usage_buckets`` name them.

One type for every sum of them: a minute bucket in the meter, a group of a report, a cell
of the dashboard's Usage page, a row of ``keyplane usage``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, fields
from typing import TypeVar


@dataclass(slots=True)
class UsageCounters:
    """Sums of calls; adding is the only operation. Money in micro-USD."""

    requests: int = 0
    error_requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_micro_usd: int = 0
    unpriced_requests: int = 0
    latency_ms_total: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0
    estimated_requests: int = 0

    def add(self, other: UsageCounters) -> None:
        """Add ``other`` to these counters, in place."""
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def tokens(self) -> int:
        """Input and output tokens; cached tokens are part of the input."""
        return self.input_tokens + self.output_tokens


COUNTERS = tuple(field.name for field in fields(UsageCounters))


K = TypeVar("K", bound=Hashable)


def summed(items: Iterable[tuple[K, UsageCounters]]) -> dict[K, UsageCounters]:
    """The counters of ``items`` added up by their keys (new counters: none is changed)."""
    sums: dict[K, UsageCounters] = {}
    for key, counters in items:
        total = sums.get(key)
        if total is None:
            total = sums[key] = UsageCounters()
        total.add(counters)
    return sums
