"""Rate limits and budgets of a key or project, and the JSON the store keeps them as."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Period(enum.StrEnum):
    DAY = "day"
    MONTH = "month"
    TOTAL = "total"


@dataclass(frozen=True, slots=True)
class RateLimits:
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_parallel_requests: int | None = None

    def to_json(self) -> dict[str, int | None]:
        return {
            "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
            "max_parallel_requests": self.max_parallel_requests,
        }


@dataclass(frozen=True, slots=True)
class Budget:
    limit_micro_usd: int
    period: Period = Period.MONTH
    alert_thresholds: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "limit_micro_usd": self.limit_micro_usd,
            "period": self.period.value,
            "alert_thresholds": list(self.alert_thresholds),
        }


def rate_limits_from_json(value: dict[str, Any] | None) -> RateLimits | None:
    """Read what the store holds: ``to_json``'s shape, and ``{}`` or null for no limits."""
    if not value:
        return None
    return RateLimits(
        requests_per_minute=value.get("requests_per_minute"),
        tokens_per_minute=value.get("tokens_per_minute"),
        max_parallel_requests=value.get("max_parallel_requests"),
    )


def budget_from_json(value: dict[str, Any] | None) -> Budget | None:
    """Read what the store holds; ``period`` defaults to a month, thresholds to none."""
    if not value:
        return None
    return Budget(
        limit_micro_usd=int(value["limit_micro_usd"]),
        period=Period(value.get("period", "month")),
        alert_thresholds=tuple(value.get("alert_thresholds", ())),
    )
