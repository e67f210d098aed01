"""How an audit event reads: rendered from the stored row (type, actor, target, data) with one
table of human labels, so an event type added later still reads well."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from keyplane.store.models import AuditEvent

LABELS = {
    "project.created": "Project created",
    "project.updated": "Project updated",
    "project.archived": "Project archived",
    "api_key.created": "Key created",
    "api_key.updated": "Key updated",
    "api_key.rotated": "Key rotated",
    "api_key.deleted": "Key revoked",
    "api_key.leaked": "Key leaked and revoked",
    "admin_api_key.created": "Admin key created",
    "admin_api_key.deleted": "Admin key revoked",
    "user.created": "Account created",
    "member.invited": "Member invited",
    "member.invite_revoked": "Invitation withdrawn",
    "member.added": "Member joined",
    "member.role_changed": "Role changed",
    "member.projects_changed": "Projects changed",
    "member.removed": "Member removed",
    "login.failed": "Sign-in failed",
    "login.succeeded": "Signed in",
    "login.locked": "Sign-in locked",
    "budget.threshold_crossed": "Budget alert",
    "organization.webhook.updated": "Webhook set",
    "organization.webhook.deleted": "Webhook removed",
    "organization.webhook.secret_rotated": "Webhook secret rotated",
}
KINDS = {
    "user": "Person",
    "session": "Person",
    "api_key": "Key",
    "proj_key": "Project key",
    "svc_key": "Service account key",
    "admin_key": "Admin key",
    "admin_api_key": "Admin key",
    "service_account": "Service account",
    "project": "Project",
    "member": "Member",
    "invite": "Invitation",
    "webhook": "Webhook",
    "system": "keyplane",
}
_WORDS = {"usd": "USD", "id": "ID", "ip": "IP", "url": "URL", "api": "API"}


def label_of(event_type: str) -> str:
    """``Key rotated``; an unknown type reads as its words: ``Foo bar baz``."""
    if event_type in LABELS:
        return LABELS[event_type]
    return words(event_type.replace(".", " "))


def words(name: str) -> str:
    """``old_secret_expires_at`` → ``Old secret expires at``."""
    parts = [_WORDS.get(p, p) for p in name.replace("_", " ").split()]
    text = " ".join(parts)
    return text[:1].upper() + text[1:]


def kind_of(kind: str | None) -> str:
    return KINDS.get(kind or "", words(kind or "")) if kind else ""


@dataclass(frozen=True)
class EventView:
    event: AuditEvent
    label: str
    actor: str
    actor_kind: str
    target: str
    target_kind: str
    details: list[tuple[str, str]]

    @classmethod
    def of(cls, event: AuditEvent, names: Mapping[str, str]) -> EventView:
        actor = names.get(event.actor_id or "") or event.actor_label or event.actor_id or ""
        target = names.get(event.target_id or "") or event.target_id or ""
        details = [
            (_label(k, v, names), text_of(k, v, names))
            for k, v in sorted((event.data or {}).items())
            if v is not None and v not in ("", [], {})
        ]
        return cls(
            event=event,
            label=label_of(event.type),
            actor=actor or kind_of(event.actor_type),
            actor_kind=kind_of(event.actor_type),
            target=target,
            target_kind=kind_of(event.target_type),
            details=details,
        )

    @property
    def raw(self) -> str:
        """The stored row as JSON, for the detail view."""
        e = self.event
        row = {
            "id": e.id,
            "type": e.type,
            "created_at": e.created_at.replace(tzinfo=UTC).isoformat(),
            "actor": {"type": e.actor_type, "id": e.actor_id, "label": e.actor_label},
            "target": {"type": e.target_type, "id": e.target_id},
            "ip_address": e.ip_address,
            "user_agent": e.user_agent,
            "data": e.data,
        }
        return json.dumps(row, indent=2, sort_keys=False, default=str)


def _label(key: str, value: Any, names: Mapping[str, str]) -> str:
    """``project_id`` reads ``Project`` once its value shows as a name."""
    if key.endswith("_id") and isinstance(value, str) and value in names:
        return words(key.removesuffix("_id"))
    return words(key.removesuffix("_seconds")) if key.endswith("_seconds") else words(key)


def mentioned_ids(event: AuditEvent) -> set[str]:
    """Ids an event mentions, whose names the page looks up in one go."""
    found = {event.actor_id or "", event.target_id or ""}
    _collect_ids(event.data, found)
    return found - {""}


def _collect_ids(value: Any, found: set[str]) -> None:
    if isinstance(value, str) and "_" in value and len(value) <= 40:
        found.add(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect_ids(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_ids(item, found)


def text_of(key: str, value: Any, names: Mapping[str, str]) -> str:
    """A value in words: names for ids, dates for Unix times, lists and objects spelled out."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and _is_time(key, value):
        moment = datetime.fromtimestamp(value, UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, int) and key.endswith("_seconds"):
        return duration(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, Mapping):
        parts = [
            text_of(str(k), v, names)
            if k == "id"
            else f"{words(str(k))} {text_of(str(k), v, names)}"
            for k, v in value.items()
            if v is not None and k != "type"
        ]
        kind = value.get("type")
        head = f"{kind_of(str(kind))}: " if kind else ""
        return head + ", ".join(parts) if parts or head else "—"
    if isinstance(value, list | tuple):
        return ", ".join(text_of(key, item, names) for item in value) or "none"
    if value is None:
        return "—"
    return str(value)


def duration(seconds: int) -> str:
    """``1 hour``, ``7 days``, ``90 seconds``; ``none`` for zero."""
    if seconds == 0:
        return "none"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count:,} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:,} seconds"


def _is_time(key: str, value: float) -> bool:
    # Unix seconds between 2001 and 2286: the audit data's *_at fields and timestamps.
    return (key.endswith("_at") or key in {"at", "time", "timestamp"}) and 1e9 <= value < 1e10
