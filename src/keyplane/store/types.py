"""Column types that behave the same on SQLite and PostgreSQL.

The decorated types change only what Python sees: each column's SQL type is its ``impl``,
so the schema (and what autogenerate compares) is the same as for the plain type.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from keyplane.values.limits import Budget, RateLimits, budget_from_json, rate_limits_from_json

E = TypeVar("E", bound=enum.StrEnum)


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


class StrEnumType(TypeDecorator[E]):
    """A ``String(length)`` holding an enum's values; loads the enum, binds an enum or its string.

    Binding a string that is not one of the values raises ``ValueError``: a typo fails on
    write instead of becoming a row nobody can load.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum_cls: type[E], length: int) -> None:
        super().__init__(length)
        self.enum_cls = enum_cls
        self.length = length

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_cls(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_cls(value)


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
