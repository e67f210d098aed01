"""The key form: what its fields show, and the service calls its submissions make."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from keyplane.audit.actor import Actor
from keyplane.errors import ValidationFailedError
from keyplane.keys.format import KeyKind
from keyplane.keys.permissions import PermissionMode, Permissions
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


async def issue(
    keys: KeyService, me: SignedIn, project: Project, form: Form, actor: Actor
) -> IssuedKey:
    owner = form.text("owner")
    spec = KeySpec(
        name=form.text("name"),
        kind=KeyKind.SERVICE_ACCOUNT if owner == "service_account" else KeyKind.PROJECT,
        permissions=_permissions(form),
        allowed_models=form.lines("allowed_models"),
        expires_at=_expiry(form),
        rate_limits=_rate_limits(form),
        budget=_budget(form, None),
    )
    return await keys.create(
        organization_id=me.access.organization_id, project_id=project.id, spec=spec, actor=actor
    )


async def update(keys: KeyService, me: SignedIn, key: ApiKey, form: Form, actor: Actor) -> ApiKey:
    # An unchanged date keeps the exact expiry, which a day's midnight would move.
    unchanged = form.text("expires_on") == _day(key)
    changes = KeyChanges(
        name=form.text("name"),
        permissions=_permissions(form),
        allowed_models=form.lines("allowed_models"),
        expires_at=key.expires_at if unchanged else _expiry(form),
        enabled=form.text("enabled") == "on",
        rate_limits=_rate_limits(form),
        budget=_budget(form, key.budget),
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


def _rate_limits(form: Form) -> RateLimits | None:
    given = {
        name: _whole(form.text(field), f"rate_limits.{name}") for field, name in _RATES.items()
    }
    return parse_rate_limits(given)


def _budget(form: Form, current: Budget | None) -> Budget | None:
    amount = form.text("budget_usd").strip().lstrip("$").replace(",", "")
    if not amount:
        return None
    # The form has no field for alert thresholds: keep the ones set through the API.
    thresholds = list(current.alert_thresholds) if current else []
    period = form.text("budget_period", Period.MONTH.value)
    return parse_budget({"limit_usd": amount, "period": period, "alert_thresholds": thresholds})


def _whole(text: str, param: str) -> int | None:
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return None
    if not text.isdigit():
        raise ValidationFailedError(
            "Enter a whole number, or leave it empty for no limit.", param=param
        )
    return int(text)


def _permissions(form: Form) -> Permissions:
    mode = form.text("permissions", "all")
    if mode not in {m.value for m in PermissionMode}:
        raise ValidationFailedError(
            "Choose All, Restricted or Read only.", param="permissions.mode"
        )
    scopes = form.texts("scopes") if mode == PermissionMode.RESTRICTED.value else []
    return Permissions(mode=PermissionMode(mode), scopes=tuple(scopes))


def _expiry(form: Form) -> Any:
    day = parse_day(form.text("expires_on"), param="expires_at")
    return None if day is None else day_start(day)


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
