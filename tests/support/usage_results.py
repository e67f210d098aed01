"""Usage results read back through the admin API, whatever day boundary a test run crossed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def summed(results: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One result out of the same group's results in several buckets: counts added, labels kept.

    A report's buckets are days by default, so calls made just before midnight UTC and read
    just after are in two results; a test that reads only the first misses the rest."""
    total: dict[str, Any] = {}
    for result in results:
        for name, value in result.items():
            if isinstance(value, int) and not isinstance(value, bool):
                total[name] = total.get(name, 0) + value
            else:
                total.setdefault(name, value)
    return total
