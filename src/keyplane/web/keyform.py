"""The key form: what its fields show, and the service calls its submissions make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from keyplane.audit.actor import Actor
from keyplane.errors import ValidationFailedError
from keyplane.keys.format import KeyKind
from keyplane.keys.permissions import PermissionMode, Permissions
from keyplane.keys.policy import MAX_LIST, MAX_NAME, clean_models, clean_name, clean_permissions
from keyplane.limits.policy import (
    MICRO,
    Budget,
    Period,
    RateLimits,
    parse_budget,
    parse_rate_limits,
)
from keyplane.services.api_keys import IssuedKey, KeyChanges, KeyService, KeySpec
from keyplane.services.rotation import RotationService
from keyplane.services.sessions import SignedIn
from keyplane.store.models import ApiKey, Project
from keyplane.web.forms import Form, day_start, parse_day

GRACE_CHOICES = ((0, "Immediately"), (3600, "1 hour"), (86400, "24 hours"), (7 * 86400, "7 days"))
TEXT_FIELDS = ("name", "allowed_models", "expires_on")
LIMIT_FIELDS = ("rpm", "tpm", "parallel", "budget_usd", "budget_period")
_RATES = {
    "rpm": "requests_per_minute",
    "tpm": "tokens_per_minute",
    "parallel": "max_parallel_requests",
}


_PLAIN = {
    "name": f"Give the key a name of at most {MAX_NAME} characters.",
    "permissions": "Choose All, Restricted or Read only.",
    "scopes": "Pick at least one scope for a Restricted key, or choose All or Read only.",
    "allowed_models": f"List at most {MAX_LIST} model names, each on its own line.",
    "rpm": "Enter a whole number of requests, like 60, or leave it empty for no limit.",
    "tpm": "Enter a whole number of tokens, like 40000, or leave it empty for no limit.",
    "parallel": "Enter a whole number of requests, like 5, or leave it empty for no limit.",
    "budget_usd": "Enter an amount in dollars, like 25 or 12.50, or leave it empty for no budget.",
    "budget_period": "Choose per day, per month or in total.",
}


@dataclass(frozen=True, slots=True)
class KeyFields:
    """The form's fields, each checked; what the key services take."""

    name: str
    permissions: Permissions
    allowed_models: list[str]
    expires_at: datetime | None
    rate_limits: RateLimits | None
    budget: Budget | None


def read_fields(form: Form, *, key: ApiKey | None, now: datetime) -> KeyFields:
    """Every field checked at once: a person sees all that is wrong, each beside its field."""
    name = form.check("name", _PLAIN["name"], lambda: clean_name(form.text("name")))
    permissions = _checked_permissions(form)
    models = form.check(
        "allowed_models",
        _PLAIN["allowed_models"],
        lambda: clean_models(form.lines("allowed_models")),
    )
    # An unchanged date keeps the exact expiry, which a day's midnight would move.
    unchanged = key is not None and form.text("expires_on") == _day(key)
    expires_at = (
        key.expires_at
        if key and unchanged
        else form.check("expires_on", None, lambda: _expiry(form, now))
    )
    rates = {
        name: form.check(field, _PLAIN[field], partial(_rate, form, field, name))
        for field, name in _RATES.items()
    }
    budget = form.check("budget_usd", None, lambda: _budget(form, key.budget if key else None))
    form.require_valid()
    assert name is not None
    assert permissions is not None
    assert models is not None
    return KeyFields(
        name=name,
        permissions=permissions,
        allowed_models=models,
        expires_at=expires_at,
        rate_limits=parse_rate_limits(rates),
        budget=budget,
    )


async def issue(
    keys: KeyService, me: SignedIn, project: Project, form: Form, actor: Actor, now: datetime
) -> IssuedKey:
    fields = read_fields(form, key=None, now=now)
    owner = form.text("owner")
    spec = KeySpec(
        name=fields.name,
        kind=KeyKind.SERVICE_ACCOUNT if owner == "service_account" else KeyKind.PROJECT,
        permissions=fields.permissions,
        allowed_models=fields.allowed_models,
        expires_at=fields.expires_at,
        rate_limits=fields.rate_limits,
        budget=fields.budget,
    )
    return await keys.create(
        organization_id=me.access.organization_id, project_id=project.id, spec=spec, actor=actor
    )


async def update(
    keys: KeyService, me: SignedIn, key: ApiKey, form: Form, actor: Actor, now: datetime
) -> ApiKey:
    fields = read_fields(form, key=key, now=now)
    changes = KeyChanges(
        name=fields.name,
        permissions=fields.permissions,
        allowed_models=fields.allowed_models,
        expires_at=fields.expires_at,
        enabled=form.text("enabled") == "on",
        rate_limits=fields.rate_limits,
        budget=fields.budget,
    )
    return await keys.update(
        organization_id=me.access.organization_id,
        project_id=key.project_id or "",
        key_id=key.id,
        changes=changes,
        actor=actor,
    )


async def rotate(
    rotation: RotationService, me: SignedIn, key: ApiKey, form: Form, actor: Actor
) -> IssuedKey:
    return await rotation.rotate(
        organization_id=me.access.organization_id,
        project_id=key.project_id or "",
        key_id=key.id,
        grace_period_seconds=grace(form.text("grace")),
        idempotency_key=None,
        actor=actor,
    )


def values(form: Form, key: ApiKey | None) -> dict[str, Any]:
    """What the form's fields show: the submitted values, else the key's, else defaults."""
    if form.data:
        shown: dict[str, Any] = {name: form.text(name) for name in (*TEXT_FIELDS, *LIMIT_FIELDS)}
        return shown | {
            "owner": form.text("owner", "you"),
            "permissions": form.text("permissions", "all"),
            "scopes": form.texts("scopes"),
            "allowed_models": "\n".join(form.lines("allowed_models")),
            "enabled": form.text("enabled") == "on",
        }
    if key is None:
        blank = dict.fromkeys((*TEXT_FIELDS, *LIMIT_FIELDS), "")
        return blank | {"owner": "you", "permissions": "all", "scopes": [], "enabled": True}
    return {
        "name": key.name,
        "owner": "service_account" if key.kind is KeyKind.SERVICE_ACCOUNT else "you",
        "permissions": key.permissions_mode.value,
        "scopes": list(key.scopes),
        "allowed_models": "\n".join(key.allowed_models),
        "expires_on": _day(key),
        "enabled": key.enabled,
        **_limit_values(key),
    }


def _limit_values(key: ApiKey) -> dict[str, str]:
    limits = key.rate_limits or RateLimits()
    budget = key.budget
    shown = {field: getattr(limits, name) for field, name in _RATES.items()}
    out = {field: "" if value is None else str(value) for field, value in shown.items()}
    out["budget_usd"] = "" if budget is None else dollars(budget.limit_micro_usd)
    out["budget_period"] = budget.period.value if budget else Period.MONTH.value
    return out


def dollars(micro: int) -> str:
    """``25`` or ``25.5``: an amount as a person types it."""
    return format((Decimal(micro) / MICRO).normalize(), "f")


def _rate(form: Form, field: str, name: str) -> int | None:
    value = _whole(form.text(field), f"rate_limits.{name}")
    parsed = parse_rate_limits({name: value})
    return None if parsed is None else getattr(parsed, name)


def _budget(form: Form, current: Budget | None) -> Budget | None:
    amount = form.text("budget_usd").strip().lstrip("$").replace(",", "")
    if not amount:
        return None
    # The form has no field for alert thresholds: keep the ones set through the API.
    thresholds = list(current.alert_thresholds) if current else []
    period = form.text("budget_period", Period.MONTH.value)
    if period not in {p.value for p in Period}:
        raise ValidationFailedError(_PLAIN["budget_period"], param="budget.period")
    try:
        return parse_budget({"limit_usd": amount, "period": period, "alert_thresholds": thresholds})
    except ValidationFailedError:
        raise ValidationFailedError(_PLAIN["budget_usd"], param="budget.limit_usd") from None


def _whole(text: str, param: str) -> int | None:
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return None
    if not text.isdigit():
        raise ValidationFailedError(
            "Enter a whole number, or leave it empty for no limit.", param=param
        )
    return int(text)


def _checked_permissions(form: Form) -> Permissions | None:
    mode = form.text("permissions", "all")
    if mode not in {m.value for m in PermissionMode}:
        form.errors["permissions"] = _PLAIN["permissions"]
        return None
    scopes = form.texts("scopes") if mode == PermissionMode.RESTRICTED.value else []
    return form.check("scopes", _PLAIN["scopes"], lambda: clean_permissions(mode, scopes))


def _expiry(form: Form, now: datetime) -> datetime | None:
    day = parse_day(form.text("expires_on"), param="expires_at")
    if day is None:
        return None
    if day_start(day) <= now:
        raise ValidationFailedError(
            "Pick a day after today, or leave it empty for a key that does not expire.",
            param="expires_at",
        )
    return day_start(day)


def _day(key: ApiKey) -> str:
    return key.expires_at.date().isoformat() if key.expires_at else ""


def grace(value: str) -> int:
    allowed = {seconds for seconds, _ in GRACE_CHOICES}
    try:
        seconds = int(value or 0)
    except ValueError:
        seconds = -1
    if seconds not in allowed:
        raise ValidationFailedError(
            "Choose one of the grace periods.", param="grace_period_seconds"
        )
    return seconds


def grace_text(seconds: int) -> str:
    return dict(GRACE_CHOICES).get(seconds, f"{seconds} seconds")
