"""Project and service-account keys: create, list, get, update, revoke."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.clock import Clock, system_clock
from keyplane.errors import ConflictError, NotFoundError
from keyplane.keys import policy
from keyplane.keys.format import KeyKind
from keyplane.keys.permissions import Permissions
from keyplane.limits.policy import Budget, RateLimits
from keyplane.services.issuing import add_secret
from keyplane.services.projects import get_project
from keyplane.store.database import Database
from keyplane.store.models import ApiKey, Project
from keyplane.store.pagination import Page, paginate
from keyplane.values.kinds import OwnerType, ProjectStatus

UNSET: Any = object()


@dataclass(frozen=True)
class KeySpec:
    """What a new key should be; validated by ``keys.policy`` before it is stored."""

    name: str
    kind: KeyKind = KeyKind.PROJECT
    permissions: Permissions = field(default_factory=Permissions)
    allowed_models: list[str] = field(default_factory=list)
    allowed_ips: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    rate_limits: RateLimits | None = None
    budget: Budget | None = None
    owner_id: str | None = None  # the service account a ``svc`` key belongs to


@dataclass(frozen=True)
class KeyChanges:
    """A partial update: fields left ``UNSET`` keep their value; ``None`` clears an expiry."""

    name: str = UNSET
    permissions: Permissions = UNSET
    allowed_models: list[str] = UNSET
    allowed_ips: list[str] = UNSET
    expires_at: datetime | None = UNSET
    metadata: dict[str, str] = UNSET
    enabled: bool = UNSET
    rate_limits: RateLimits | None = UNSET
    budget: Budget | None = UNSET

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not UNSET}


@dataclass(frozen=True)
class IssuedKey:
    """A key together with its plaintext, which exists only in this object and one response."""

    key: ApiKey
    plaintext: str = field(repr=False)


class KeyService:
    def __init__(self, database: Database, *, brand: str, clock: Clock = system_clock) -> None:
        self.db = database
        self.brand = brand
        self.clock = clock

    async def create(
        self, *, organization_id: str, project_id: str, spec: KeySpec, actor: Actor
    ) -> IssuedKey:
        now = self.clock()
        async with self.db.session() as session, session.begin():
            project = await get_project(
                session, organization_id=organization_id, project_id=project_id
            )
            return await issue_project_key(
                session, project=project, spec=spec, actor=actor, brand=self.brand, now=now
            )

    async def list(
        self,
        *,
        organization_id: str,
        project_id: str,
        limit: int = 20,
        after: str | None = None,
        include_revoked: bool = False,
    ) -> Page[ApiKey]:
        async with self.db.session() as session:
            await get_project(session, organization_id=organization_id, project_id=project_id)
            query = select(ApiKey).where(
                ApiKey.organization_id == organization_id, ApiKey.project_id == project_id
            )
            if not include_revoked:
                query = query.where(ApiKey.revoked_at.is_(None))
            return await paginate(session, query, ApiKey, limit=limit, after=after)

    async def get(self, *, organization_id: str, project_id: str, key_id: str) -> ApiKey:
        async with self.db.session() as session:
            return await get_project_key(
                session, organization_id=organization_id, project_id=project_id, key_id=key_id
            )

    async def update(
        self,
        *,
        organization_id: str,
        project_id: str,
        key_id: str,
        changes: KeyChanges,
        actor: Actor,
    ) -> ApiKey:
        fields = _validated(changes.given(), now=self.clock())
        async with self.db.session() as session, session.begin():
            key = await get_project_key(
                session, organization_id=organization_id, project_id=project_id, key_id=key_id
            )
            if key.revoked_at is not None:
                raise ConflictError("This key is revoked; revoked keys cannot be changed.")
            changed = {name: value for name, value in fields.items() if getattr(key, name) != value}
            for name, value in changed.items():
                setattr(key, name, value)
            if changed:
                record(
                    session,
                    organization_id=organization_id,
                    type="api_key.updated",
                    actor=actor,
                    target_type="api_key",
                    target_id=key.id,
                    data={"project_id": project_id, "changes": _describe(changed)},
                )
        return key

    async def revoke(
        self,
        *,
        organization_id: str,
        project_id: str,
        key_id: str,
        actor: Actor,
        reason: str = "revoked",
        details: dict[str, Any] | None = None,
    ) -> ApiKey:
        """Revoke at once; revoking a revoked key again changes nothing and records nothing."""
        async with self.db.session() as session, session.begin():
            key = await get_project_key(
                session, organization_id=organization_id, project_id=project_id, key_id=key_id
            )
            revoke_in(session, key, actor=actor, now=self.clock(), reason=reason, details=details)
        return key


async def issue_project_key(
    session: AsyncSession,
    *,
    project: Project,
    spec: KeySpec,
    actor: Actor,
    brand: str,
    now: datetime,
) -> IssuedKey:
    """Create a project or service-account key in the caller's transaction."""
    fields = _validated(spec.__dict__, now=now)
    if project.status is ProjectStatus.ARCHIVED:
        raise ConflictError("Project is archived; unarchive it to create keys.")
    key = ApiKey(
        organization_id=project.organization_id,
        project_id=project.id,
        kind=spec.kind,
        owner_type=_owner_type(spec.kind, actor),
        owner_id=spec.owner_id or (actor.id if spec.kind is KeyKind.PROJECT else None),
        created_by=actor.id,
        created_at=now,
        redacted_value="",
        **fields,
    )
    session.add(key)
    await session.flush()
    _, plaintext = add_secret(session, key, brand=brand, now=now)
    record(
        session,
        organization_id=project.organization_id,
        type="api_key.created",
        actor=actor,
        target_type="api_key",
        target_id=key.id,
        data={
            "project_id": project.id,
            "name": key.name,
            "kind": key.kind.value,
            "redacted_value": key.redacted_value,
            "scopes": list(key.scopes),
        },
    )
    return IssuedKey(key=key, plaintext=plaintext)


def revoke_in(
    session: AsyncSession,
    key: ApiKey,
    *,
    actor: Actor,
    now: datetime,
    reason: str,
    details: dict[str, Any] | None = None,
) -> bool:
    """Mark ``key`` revoked in the caller's transaction; False when it already was."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = now
    key.revoked_reason = reason
    event_type = "admin_api_key.deleted" if key.kind is KeyKind.ADMIN else "api_key.deleted"
    if reason == "leaked":
        event_type = "api_key.leaked"  # whatever its kind: a leak is what people look for
    record(
        session,
        organization_id=key.organization_id,
        type=event_type,
        actor=actor,
        target_type="api_key",
        target_id=key.id,
        data={
            "project_id": key.project_id,
            "name": key.name,
            "reason": reason,
            "redacted_value": key.redacted_value,
            **(details or {}),
        },
    )
    return True


async def get_project_key(
    session: AsyncSession, *, organization_id: str, project_id: str, key_id: str
) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None or key.organization_id != organization_id or key.project_id != project_id:
        await get_project(session, organization_id=organization_id, project_id=project_id)
        raise NotFoundError(
            f"No API key with id '{key_id}' in project '{project_id}'.", param="key_id"
        )
    return key


def _owner_type(kind: KeyKind, actor: Actor) -> OwnerType:
    if kind is KeyKind.SERVICE_ACCOUNT:
        return OwnerType.SERVICE_ACCOUNT
    return OwnerType(actor.type)


def _validated(fields: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """Clean each given field and map it to its column names."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "name":
            out["name"] = policy.clean_name(value)
        elif name == "permissions":
            clean = policy.clean_permissions(value.mode.value, list(value.scopes))
            out["permissions_mode"] = clean.mode
            out["scopes"] = list(clean.scopes)
        elif name == "allowed_models":
            out["allowed_models"] = policy.clean_models(value)
        elif name == "allowed_ips":
            out["allowed_ips"] = policy.clean_ips(value)
        elif name == "expires_at":
            out["expires_at"] = policy.clean_expiry(value, now=now)
        elif name == "metadata":
            out["metadata_"] = policy.clean_metadata(value)
        elif name == "enabled":
            out["enabled"] = bool(value)
        elif name in ("rate_limits", "budget"):
            out[name] = value
    return out


def _describe(changed: dict[str, Any]) -> dict[str, Any]:
    """Changed fields for the audit log, in the API's names and JSON-friendly values."""
    names = {
        "metadata_": "metadata",
        "permissions_mode": "permissions.mode",
        "scopes": "permissions.scopes",
    }
    return {names.get(k, k): _json_value(v) for k, v in changed.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, RateLimits | Budget):
        return value.to_json()
    if isinstance(value, enum.Enum):
        return value.value
    return value
