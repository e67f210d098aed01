"""``/v1/keys/verify``: is this key good, and what may it do? Always an answer, never a raise."""

from __future__ import annotations

from dataclasses import dataclass

from keyplane.auth.resolve import KeyStatus, Resolution, resolve_key
from keyplane.keys.permissions import PermissionMode, Permissions
from keyplane.services.clock import Clock, system_clock
from keyplane.store.database import Database
from keyplane.store.models import ApiKey, Project


@dataclass(frozen=True, slots=True)
class Verdict:
    status: KeyStatus
    key: ApiKey | None = None
    missing_scopes: tuple[str, ...] = ()
    project: Project | None = None

    @property
    def valid(self) -> bool:
        return self.status is KeyStatus.VALID


def permissions_of(key: ApiKey) -> Permissions:
    return Permissions(mode=PermissionMode(key.permissions_mode), scopes=tuple(key.scopes))


class VerifyService:
    def __init__(self, database: Database, *, brand: str, clock: Clock = system_clock) -> None:
        self.db = database
        self.brand = brand
        self.clock = clock

    async def verify(
        self, *, organization_id: str, presented: str, scopes: list[str] | None = None
    ) -> Verdict:
        async with self.db.session() as session:
            resolution = await resolve_key(
                session, presented=presented, brand=self.brand, now=self.clock()
            )
        return judge(resolution, organization_id=organization_id, scopes=scopes or [])


def judge(resolution: Resolution, *, organization_id: str, scopes: list[str]) -> Verdict:
    key = resolution.key
    if key is None or key.organization_id != organization_id:
        # Another organisation's key is none of this caller's business.
        status = (
            KeyStatus.MALFORMED if resolution.status is KeyStatus.MALFORMED else KeyStatus.NOT_FOUND
        )
        return Verdict(status)
    project = resolution.project
    if not resolution.valid:
        return Verdict(resolution.status, key, project=project)
    permissions = permissions_of(key)
    missing = tuple(scope for scope in scopes if not permissions.allows(scope))
    if missing:
        return Verdict(KeyStatus.INSUFFICIENT_PERMISSIONS, key, missing, project)
    return Verdict(KeyStatus.VALID, key, project=project)
