"""What people type, checked before anything is sent, and named as they typed it.

The server names fields (``budget.limit_usd``); a person typed flags (``--budget-usd``). Values
are checked here with the same rules the server applies (``keys.policy``), so a mistake is
reported against the flag, and a secret key typed where an id belongs never leaves the machine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from keyplane.cli.errors import CliUsageError
from keyplane.errors import ValidationFailedError
from keyplane.keys import policy
from keyplane.limits.policy import ModelLimits, merge_model_limits

T = TypeVar("T")

# API fields and the flags that set them; the longest names first, as they are replaced in text.
FLAGS = {
    "rate_limits.requests_per_minute": "--limit-rpm",
    "rate_limits.tokens_per_minute": "--limit-tpm",
    "rate_limits.max_parallel_requests": "--limit-parallel",
    "max_requests_per_1_minute": "--rpm",
    "max_tokens_per_1_minute": "--tpm",
    "max_requests_per_1_day": "--rpd",
    "budget.alert_thresholds": "--budget-alert",
    "permissions.scopes": "--scope",
    "permissions.mode": "--permissions",
    "grace_period_seconds": "--grace",
    "alert_thresholds": "--budget-alert",
    "budget.limit_usd": "--budget-usd",
    "budget.period": "--budget-period",
    "allowed_models": "--model",
    "allowed_ips": "--allow-ip",
    "expires_at": "--expires-in/--expires-at",
    "limit_usd": "--budget-usd",
    "metadata": "--metadata",
}
_FIELD_NAMES = re.compile(
    "|".join(re.escape(name) for name in sorted(FLAGS, key=len, reverse=True)), re.IGNORECASE
)
# A keyplane secret of any brand (even cut short) or an OpenAI-style one.
_SECRET = re.compile(r"\b[a-z][a-z0-9]{0,15}_(?:proj|svc|admin)_[0-9A-Za-z]{8,}|\bsk-[\w-]{12,}")


def flag_message(param: str | None, message: str) -> str | None:
    """The server's words about ``param`` in terms of flags, or None if no flag sets it."""
    field = _field_of(param)
    if field is None:
        return None
    flag = FLAGS[field]
    text = _FIELD_NAMES.sub(lambda match: FLAGS[match.group(0).lower()], message)
    return text if flag in text else f"{flag}: {text}"


def _field_of(param: str | None) -> str | None:
    if param is None:
        return None
    param = re.sub(r"\[\d+\]", "", param)  # allowed_ips[2] -> allowed_ips
    while param and param not in FLAGS:
        param = param.rpartition(".")[0]
    return param or None


def checked(rule: Callable[..., T], *args: Any, flag: str | None = None, **kwargs: Any) -> T:
    """Apply one of the server's validation rules here, naming the flag when it refuses."""
    try:
        return rule(*args, **kwargs)
    except ValidationFailedError as exc:
        text = f"{flag}: {exc.message}" if flag else flag_message(exc.param, exc.message)
        raise CliUsageError(text or exc.message) from None


def check_key_fields(body: dict[str, Any]) -> None:
    """The server's rules for a key's fields, applied to the body about to be sent."""
    permissions = body.get("permissions")
    if permissions is not None:
        checked(policy.clean_permissions, permissions["mode"], permissions["scopes"])
    if "allowed_models" in body:
        checked(policy.clean_models, body["allowed_models"])
    if "allowed_ips" in body:
        checked(policy.clean_ips, body["allowed_ips"])
    if "metadata" in body:
        checked(policy.clean_metadata, body["metadata"])
    expires_at = body.get("expires_at")
    if expires_at is not None:
        moment = datetime.fromtimestamp(expires_at, UTC)
        checked(policy.clean_expiry, moment, now=datetime.now(UTC))
    if "name" in body:
        body["name"] = checked(policy.clean_name, body["name"], flag="--name")


def dollars(value: str) -> str:
    """A ``--budget-usd`` amount, checked as the server will: 0 to 10^12, whole micro-dollars."""
    text = value.strip().removeprefix("$").replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or not 0 <= amount <= 10**12 or amount != round(amount, 6):
        raise CliUsageError(
            f"--budget-usd takes an amount in US dollars from 0 to 10^12 with at most 6 "
            f"decimal places, such as 25 or 12.50; got {value[:40]!r}"
        )
    return text


def requests_per_day(value: str) -> int:
    """A ``--rpd`` count, checked by the server's rule; ``none`` is 0, the API's "no limit".

    A typed 0 is refused: the API would read it as no limit, while a person may mean no calls.
    """
    text = value.strip().lower()
    if text == "none":
        return 0
    if not (text.isascii() and text.isdigit()):
        raise CliUsageError(
            "--rpd takes a whole number of requests per UTC day, 1 or more, such as 1000, "
            f"or none to remove the day limit; got {value[:40]!r}"
        )
    count = int(text)
    if count == 0:
        raise CliUsageError(
            "--rpd 0 would remove the day limit, not block the model: give 1 or more, or "
            "--rpd none to remove it (keyplane model-permissions deny blocks a model)"
        )
    checked(merge_model_limits, ModelLimits(), {"max_requests_per_1_day": count})
    return count


def refuse_secret(value: str, *, what: str, hint: str) -> None:
    """Stop before a secret typed where an id belongs is sent anywhere or printed back."""
    if _SECRET.search(value):
        raise CliUsageError(
            f"that is a secret key, not a {what}; it was not sent anywhere and is not shown "
            f"here. {hint}"
        )
