"""Audit events in OpenAI's shape (``AuditLog`` of its Administration API).

keyplane keeps each event under its own precise name (``api_key.rotated``, ``member.invited``);
OpenAI's face shows the closest of OpenAI's ``AuditLogEventType``s, with the precise name
beside it as ``keyplane_type``, so filtering by either finds the event. The actor becomes
OpenAI's: a ``session`` (a person in the dashboard, with their IP) or an ``api_key`` (with
its id and the user or service account it stands for).

The dashboard and the admin API read the same views (``AuditViews``), so both show the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from keyplane.store.database import Database
from keyplane.store.models import ApiKey, AuditEvent, Project, User
from keyplane.values.kinds import OwnerType

# keyplane's own names -> the closest OpenAI type. Names not listed are OpenAI's already.
CLOSEST: dict[str, str] = {
    "admin_api_key.created": "api_key.created",
    "admin_api_key.deleted": "api_key.deleted",
    "api_key.rotated": "api_key.updated",
    "api_key.leaked": "api_key.deleted",
    "member.invited": "invite.sent",
    "member.invite_revoked": "invite.deleted",
    "member.added": "user.added",
    "member.role_changed": "user.updated",
    "member.projects_changed": "user.updated",
    "member.removed": "user.deleted",
    "user.created": "user.added",
    "login.locked": "login.failed",
    "organization.webhook.updated": "organization.updated",
    "organization.webhook.deleted": "organization.updated",
    "organization.webhook.secret_rotated": "organization.updated",
    "project.model_permissions_updated": "project.updated",
    "budget.threshold_crossed": "organization.updated",
}
# The detail key of an event: ``data`` for creations, ``changes_requested`` for changes.
_CHANGES = ("updated", "role_changed", "projects_changed", "rotated")


def openai_type(keyplane_type: str) -> str:
    return CLOSEST.get(keyplane_type, keyplane_type)


def stored_types(names: Iterable[str]) -> list[str]:
    """The stored names an ``event_types[]`` filter means: each name, and every keyplane
    name whose closest OpenAI type it is."""
    wanted = set(names)
    return sorted(wanted | {mine for mine, theirs in CLOSEST.items() if theirs in wanted})


@dataclass(frozen=True, slots=True)
class _Context:
    users: dict[str, User]
    admin_keys: dict[str, ApiKey]
    projects: dict[str, Project]


class AuditViews:
    """Render events in OpenAI's shape, loading the people, keys and projects they name."""

    def __init__(self, database: Database) -> None:
        self.db = database

    async def render(self, events: Sequence[AuditEvent]) -> list[dict[str, Any]]:
        context = await self._context(events)
        return [render(event, context) for event in events]

    async def _context(self, events: Sequence[AuditEvent]) -> _Context:
        key_ids = {e.actor_id for e in events if e.actor_type == "admin_key" and e.actor_id}
        project_ids = {e.project_id for e in events if e.project_id}
        async with self.db.session() as session:
            keys = {
                k.id: k
                for k in (
                    await session.execute(select(ApiKey).where(ApiKey.id.in_(key_ids)))
                ).scalars()
            }
            user_ids = {e.actor_id for e in events if e.actor_type == "user" and e.actor_id}
            user_ids |= {
                k.owner_id for k in keys.values() if k.owner_type is OwnerType.USER and k.owner_id
            }
            users = {
                u.id: u
                for u in (
                    await session.execute(select(User).where(User.id.in_(user_ids)))
                ).scalars()
            }
            projects = {
                p.id: p
                for p in (
                    await session.execute(select(Project).where(Project.id.in_(project_ids)))
                ).scalars()
            }
        return _Context(users=users, admin_keys=keys, projects=projects)


def render(event: AuditEvent, context: _Context) -> dict[str, Any]:
    kind = openai_type(event.type)
    view: dict[str, Any] = {
        "object": "organization.audit_log",
        "id": event.id,
        "type": kind,
        "keyplane_type": event.type,
        "effective_at": int(event.created_at.timestamp()),
        "actor": _actor(event, context),
        kind: _details(event),
        # keyplane's own fields, as before this shape: readable for one more release.
        "target": {"type": event.target_type, "id": event.target_id},
        "data": event.data,
    }
    if event.project_id:
        project = context.projects.get(event.project_id)
        view["project"] = {"id": event.project_id, "name": project.name if project else ""}
    return view


def _details(event: AuditEvent) -> dict[str, Any]:
    """The object under the event's type: its id, and what was made or changed."""
    details: dict[str, Any] = {}
    if event.target_id:
        details["id"] = event.target_id
    data = dict(event.data or {})
    if event.type.startswith("login."):
        return {
            "error_code": event.type.split(".")[1],
            "error_message": str(data.get("reason", "")),
        }
    if event.type == "api_key.rotated":
        details["changes_requested"] = {"rotated": True, **data}
    elif event.type == "member.role_changed":
        details["changes_requested"] = {"role": data.get("to"), **data}
    elif event.type.endswith(_CHANGES):
        details["changes_requested"] = data.pop("changes_requested", None) or data.get(
            "changes", data
        )
    elif event.type.endswith(("deleted", "leaked", "removed", "revoked", "archived")):
        if data.get("reason"):
            details["reason"] = data["reason"]
    else:
        details["data"] = _creation_data(event.type, data)
    return details


def _creation_data(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    if kind in ("api_key.created", "admin_api_key.created"):
        return {**data, "scopes": list(data.get("scopes") or [])}
    return data


def _actor(event: AuditEvent, context: _Context) -> dict[str, Any]:
    # keyplane's own actor fields stay beside OpenAI's, readable for one more release.
    own = {
        "keyplane_type": event.actor_type,
        "id": event.actor_id,
        "label": event.actor_label,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
    }
    if event.actor_type == "user":
        session: dict[str, Any] = {"user": _user(event.actor_id, event.actor_label, context)}
        if event.ip_address:
            session["ip_address"] = event.ip_address
        if event.user_agent:
            session["user_agent"] = event.user_agent
        return {"type": "session", "session": session, **own}
    return {"type": "api_key", "api_key": _api_key(event, context), **own}


def _user(user_id: str | None, label: str | None, context: _Context) -> dict[str, str]:
    user = context.users.get(user_id or "")
    found: dict[str, str] = {}
    if user_id:
        found["id"] = user_id
    email = user.email if user else label
    if email:
        found["email"] = email
    return found


def _api_key(event: AuditEvent, context: _Context) -> dict[str, Any]:
    """An admin key and who it stands for; the server and leak reports as service accounts."""
    key = context.admin_keys.get(event.actor_id or "")
    if key is not None and key.owner_type is OwnerType.USER and key.owner_id:
        return {
            "id": key.id,
            "type": "user",
            "user": _user(key.owner_id, None, context),
        }
    if key is not None:
        return {
            "id": key.id,
            "type": "service_account",
            "service_account": {"id": key.owner_id or "system"},
        }
    # No key: the server itself (``system``) or a partner's leak report.
    return {
        "id": event.actor_id or event.actor_type,
        "type": "service_account",
        "service_account": {"id": event.actor_type},
    }
