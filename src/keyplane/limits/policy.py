"""Limit and budget settings as the API gives them, and budget windows. Pure code.

The values themselves (``RateLimits``, ``Budget``, ``Period``) live in ``keyplane.values``
so the store can persist them; they are re-exported here, where the domain reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from keyplane.errors import BadRequestError, ValidationFailedError
from keyplane.values.limits import Budget as Budget
from keyplane.values.limits import Period as Period
from keyplane.values.limits import RateLimits as RateLimits

MICRO = 1_000_000
MAX_LIMIT = 10**12


@dataclass(frozen=True, slots=True)
class Window:
    """One budget period: an id that names it and when it ends (None for ``total``)."""

    id: str
    start: datetime
    end: datetime | None
    end_timestamp: float | None = field(init=False, compare=False)

    def __post_init__(self) -> None:
        end = None if self.end is None else self.end.timestamp()
        object.__setattr__(self, "end_timestamp", end)


# Windows by period and UTC date: every limited call asks, and they change once a day.
_WINDOWS: dict[tuple[Period, int, int, int], Window] = {}


def window_of(period: Period, now: datetime) -> Window:
    """Calendar windows in UTC; they reset at the boundary without anyone touching the key."""
    if now.tzinfo is not UTC:
        now = now.astimezone(UTC)
    day = (period, now.year, now.month, now.day)
    window = _WINDOWS.get(day)
    if window is None:
        if len(_WINDOWS) >= 64:
            _WINDOWS.clear()
        window = _WINDOWS[day] = _window_of(period, now)
    return window


def _window_of(period: Period, now: datetime) -> Window:
    if period is Period.DAY:
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        end = datetime.fromordinal(start.toordinal() + 1).replace(tzinfo=UTC)
        return Window(f"day:{start:%Y-%m-%d}", start, end)
    if period is Period.MONTH:
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        return Window(f"month:{start:%Y-%m}", start, start.replace(year=year, month=month))
    return Window("total", datetime(1970, 1, 1, tzinfo=UTC), None)


def parse_rate_limits(
    value: dict[str, Any] | None, *, param: str = "rate_limits"
) -> RateLimits | None:
    """Validate the API's ``rate_limits`` object; ``None`` or all-null means no limits."""
    if value is None:
        return None
    known = {"requests_per_minute", "tokens_per_minute", "max_parallel_requests"}
    unknown = set(value) - known
    if unknown:
        raise ValidationFailedError(
            f"Unknown field '{sorted(unknown)[0]}'; rate_limits takes {', '.join(sorted(known))}.",
            param=f"{param}.{sorted(unknown)[0]}",
        )
    fields = {name: _positive_int(value.get(name), f"{param}.{name}") for name in known}
    limits = RateLimits(**fields)
    return None if limits == RateLimits() else limits


def parse_budget(value: dict[str, Any] | None, *, param: str = "budget") -> Budget | None:
    """Validate the API's ``budget`` object: ``limit_usd``, ``period``, ``alert_thresholds``."""
    if value is None:
        return None
    unknown = set(value) - {"limit_usd", "period", "alert_thresholds"}
    if unknown:
        raise ValidationFailedError(
            f"Unknown field '{sorted(unknown)[0]}'; budget takes limit_usd, period, "
            "alert_thresholds.",
            param=f"{param}.{sorted(unknown)[0]}",
        )
    limit = _micro_usd(value.get("limit_usd"), f"{param}.limit_usd")
    try:
        period = Period(value.get("period", "month"))
    except ValueError:
        raise ValidationFailedError(
            "period must be one of day, month, total.", param=f"{param}.period"
        ) from None
    thresholds = value.get("alert_thresholds") or []
    if not isinstance(thresholds, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) and 1 <= t <= 1000 for t in thresholds
    ):
        raise ValidationFailedError(
            "alert_thresholds must be percentages from 1 to 1000, e.g. [50, 80, 100].",
            param=f"{param}.alert_thresholds",
        )
    return Budget(limit, period, tuple(sorted(set(thresholds))))


def _positive_int(value: Any, param: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ValidationFailedError(
            f"{param.rsplit('.', 1)[-1]} must be a whole number from 1 to {MAX_LIMIT}, or null.",
            param=param,
        )
    return value


def _micro_usd(value: Any, param: str) -> int:
    """Dollars (number or decimal string) to integer micro-USD, refusing sub-micro amounts."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationFailedError(
            "limit_usd must be a number of US dollars, e.g. 25.50.", param=param
        )
    try:
        amount = Decimal(str(value)) * MICRO
    except InvalidOperation:
        raise ValidationFailedError(
            "limit_usd must be a number of US dollars.", param=param
        ) from None
    if amount != amount.to_integral_value() or not 0 <= amount <= MAX_LIMIT * MICRO:
        raise ValidationFailedError(
            "limit_usd must be between 0 and 10^12 dollars, at most 6 decimal places.", param=param
        )
    return int(amount)


# --- per-model limits of a project (OpenAI's ``projects/{id}/rate_limits``) ---------------

# OpenAI's fields, in its names. keyplane enforces these per model, atomically with the key's
# and the project's own limits. The others count images, audio and batch input, none of which
# keyplane's gateway serves, so they are refused with a 400 rather than stored and ignored.
ENFORCED_MODEL_LIMITS = (
    "max_requests_per_1_minute",
    "max_tokens_per_1_minute",
    "max_requests_per_1_day",
)
UNSUPPORTED_MODEL_LIMITS = (
    "max_images_per_1_minute",
    "max_audio_megabytes_per_1_minute",
    "batch_1_day_max_input_tokens",
)


@dataclass(frozen=True, slots=True)
class ModelLimits:
    """One model's limits in one project; None is no limit."""

    max_requests_per_1_minute: int | None = None
    max_tokens_per_1_minute: int | None = None
    max_requests_per_1_day: int | None = None  # per calendar day, UTC

    def to_json(self) -> dict[str, int | None]:
        return {
            "max_requests_per_1_minute": self.max_requests_per_1_minute,
            "max_tokens_per_1_minute": self.max_tokens_per_1_minute,
            "max_requests_per_1_day": self.max_requests_per_1_day,
        }

    @classmethod
    def of_json(cls, fields: dict[str, Any]) -> ModelLimits:
        return cls(**{name: fields.get(name) for name in ENFORCED_MODEL_LIMITS})

    def as_rate_limits(self) -> RateLimits:
        return RateLimits(
            requests_per_minute=self.max_requests_per_1_minute,
            tokens_per_minute=self.max_tokens_per_1_minute,
        )


def model_limits_from_json(value: dict[str, Any] | None) -> dict[str, ModelLimits]:
    """A project's stored ``model_rate_limits``: model -> its limits, unlimited ones left out."""
    found = {}
    for model, fields in (value or {}).items():
        limits = ModelLimits.of_json(fields)
        if limits != ModelLimits():
            found[model] = limits
    return found


def limits_of_model(value: dict[str, Any] | None, model: str) -> ModelLimits | None:
    """The limits a project sets on ``model``, without reading the others (the gateway's path)."""
    fields = (value or {}).get(model) if value else None
    if not fields:
        return None
    limits = ModelLimits.of_json(fields)
    return None if limits == ModelLimits() else limits


def merge_model_limits(current: ModelLimits, changes: dict[str, Any]) -> ModelLimits:
    """Apply OpenAI's update body: given fields change, ``0`` or null clears one, absent keep.

    Fields keyplane cannot enforce yet are refused, never stored and silently ignored.
    """
    for name in UNSUPPORTED_MODEL_LIMITS:
        if changes.get(name) not in (None, 0):
            raise BadRequestError(
                f"keyplane does not support {name}: its gateway serves no image, audio or "
                f"batch calls, so there is nothing to count. It enforces "
                f"{', '.join(ENFORCED_MODEL_LIMITS)} per model.",
                param=name,
                code="unsupported_parameter",
            )
    values = current.to_json()
    for name in ENFORCED_MODEL_LIMITS:
        if name not in changes:
            continue
        value = changes[name]
        if value in (None, 0):
            values[name] = None
        else:
            values[name] = _positive_int(value, name)
    return ModelLimits(**values)
