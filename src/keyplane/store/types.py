"""Column types that behave the same on SQLite and PostgreSQL.

The decorated types change only what Python sees: each column's SQL type is its ``impl``,
so the schema (and what autogenerate compares) is the same as for the plain type.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from keyplane.values.limits import Budget, RateLimits, budget_from_json, rate_limits_from_json


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no time zone, PostgreSQL would."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class RateLimitsType(TypeDecorator[RateLimits]):
    """``RateLimits`` as the JSON object ``RateLimits.to_json`` writes."""

    impl = JSON
    cache_ok = True
    # Like JSON itself: an explicit None is stored as JSON null, an unset one as SQL NULL.
    should_evaluate_none = True

    def process_bind_param(
        self, value: RateLimits | None, dialect: Dialect
    ) -> dict[str, Any] | None:
        return None if value is None else value.to_json()

    def process_result_value(self, value: Any, dialect: Dialect) -> RateLimits | None:
        return rate_limits_from_json(value)


class BudgetType(TypeDecorator[Budget]):
    """``Budget`` as the JSON object ``Budget.to_json`` writes."""

    impl = JSON
    cache_ok = True
    should_evaluate_none = True  # as in RateLimitsType

    def process_bind_param(self, value: Budget | None, dialect: Dialect) -> dict[str, Any] | None:
        return None if value is None else value.to_json()

    def process_result_value(self, value: Any, dialect: Dialect) -> Budget | None:
        return budget_from_json(value)


def utcnow() -> datetime:
    return datetime.now(UTC)
