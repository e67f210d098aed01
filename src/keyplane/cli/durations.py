"""Parse ``30d``, ``12h``, ``90m``, ``45s`` and ISO dates given on the command line."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from keyplane.cli.errors import CliUsageError

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, *, option: str) -> timedelta:
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise CliUsageError(
            f"{option}: expected a duration like 30d, 12h, 90m or 45s, got {text!r}"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_moment(text: str, *, option: str, now: datetime | None = None) -> datetime:
    """An ISO date/time (UTC unless it says otherwise), or a duration before ``now``."""
    now = now or datetime.now(UTC)
    if _DURATION.match(text.strip().lower()):
        return now - parse_duration(text, option=option)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliUsageError(
            f"{option}: expected a date like 2026-01-31 or a duration like 7d, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
