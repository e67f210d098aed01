"""Turn a presented secret into a key record and a verdict, the way every surface needs it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import MalformedKeyError
from keyplane.keys import hash_key, parse_key
from keyplane.keys.format import KeyKind
from keyplane.store.models import ApiKey, ApiKeySecret, Project
from keyplane.values.kinds import ProjectStatus


class KeyStatus(enum.StrEnum):
    """Verdicts, as ``/v1/keys/verify`` reports them in ``code``."""

    VALID = "VALID"
    MALFORMED = "MALFORMED"
    NOT_FOUND = "NOT_FOUND"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    DISABLED = "DISABLED"
    PROJECT_ARCHIVED = "PROJECT_ARCHIVED"
    INSUFFICIENT_PERMISSIONS = "INSUFFICIENT_PERMISSIONS"
    RATE_LIMITED = "RATE_LIMITED"
    USAGE_EXCEEDED = "USAGE_EXCEEDED"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class Resolution:
    status: KeyStatus
    kind: KeyKind | None = None
    key: ApiKey | None = None
    project: Project | None = None
    secret: ApiKeySecret | None = None

    @property
    def valid(self) -> bool:
        return self.status is KeyStatus.VALID


async def resolve_key(
    session: AsyncSession, *, presented: str, brand: str, now: datetime
) -> Resolution:
    """Check shape and checksum first (no store access), then look the hash up."""
    try:
        parsed = parse_key(presented, brand=brand)
    except MalformedKeyError:
        return Resolution(KeyStatus.MALFORMED)
    row = (
        await session.execute(
            select(ApiKeySecret, ApiKey, Project)
            .join(ApiKey, ApiKeySecret.api_key_id == ApiKey.id)
            .outerjoin(Project, ApiKey.project_id == Project.id)
            .where(ApiKeySecret.hash == hash_key(presented))
        )
    ).first()
    if row is None:
        return Resolution(KeyStatus.NOT_FOUND, kind=parsed.kind)
    secret, key, project = row
    return Resolution(
        key_status(key, secret=secret, project=project, now=now),
        kind=parsed.kind,
        key=key,
        project=project,
        secret=secret,
    )


def key_status(
    key: ApiKey, *, secret: ApiKeySecret | None, project: Project | None, now: datetime
) -> KeyStatus:
    """The verdict for a known key; revocation outranks everything else."""
    if key.revoked_at is not None:
        return KeyStatus.REVOKED
    if secret is not None and secret.expires_at is not None and secret.expires_at <= now:
        # An old secret past its rotation grace period is as good as revoked.
        return KeyStatus.REVOKED
    if key.expires_at is not None and key.expires_at <= now:
        return KeyStatus.EXPIRED
    if project is not None and project.status is ProjectStatus.ARCHIVED:
        return KeyStatus.PROJECT_ARCHIVED
    if not key.enabled:
        return KeyStatus.DISABLED
    return KeyStatus.VALID
