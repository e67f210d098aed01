"""``/v1/keys/verify``: is this key good, what may it do, and what is left of its limits?

Always an answer, never a raise. A verification with a ``cost`` spends from the key's
request limits through the same ``LimitService`` as the gateway's admission, and is metered as a
call of the team's own API.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from keyplane.auth.last_used import LastUsedTracker
from keyplane.auth.resolve import KeyStatus, Resolution, resolve_key
from keyplane.clock import Clock, system_clock
from keyplane.errors import BudgetExceededError, RateLimitedError, UnavailableError
from keyplane.keys.permissions import Permissions
from keyplane.limits.backend import ScopeStatus
from keyplane.limits.service import LimitService
from keyplane.store.database import Database
from keyplane.store.models import ApiKey, Project
from keyplane.usage.meter import Meter
from keyplane.usage.records import NO_TOKENS, UsageRecord, minute_of

VERIFY_ENDPOINT = "verify"  # how usage_buckets.endpoint names metered verifications


@dataclass(frozen=True, slots=True)
class Verdict:
    status: KeyStatus
    key: ApiKey | None = None
    missing_scopes: tuple[str, ...] = ()
    project: Project | None = None
    # What is left for the key and its project (empty when it has no limits).
    limits: tuple[ScopeStatus, ...] = ()
    # Set when a limit refused: seconds until it may pass.
    retry_after: float | None = None

    @property
    def valid(self) -> bool:
        return self.status is KeyStatus.VALID


def permissions_of(key: ApiKey) -> Permissions:
    return Permissions(mode=key.permissions_mode, scopes=tuple(key.scopes))


class VerifyService:
    def __init__(
        self,
        database: Database,
        *,
        brand: str,
        limits: LimitService,
        meter: Meter,
        last_used: LastUsedTracker,
        clock: Clock = system_clock,
    ) -> None:
        self.db = database
        self.brand = brand
        self.limits = limits
        self.meter = meter
        self.last_used = last_used
        self.clock = clock

    async def verify(
        self,
        *,
        organization_id: str,
        presented: str,
        scopes: list[str] | None = None,
        cost: int = 0,
    ) -> Verdict:
        """The verdict on ``presented``; a ``cost`` > 0 spends that many requests."""
        now = self.clock()
        async with self.db.session() as session:
            resolution = await resolve_key(session, presented=presented, brand=self.brand, now=now)
        verdict = judge(resolution, organization_id=organization_id, scopes=scopes or [])
        key = verdict.key
        if not verdict.valid or key is None:
            return verdict
        self.last_used.touch(key.id, now)
        verdict = await self._limited(verdict, cost)
        if cost > 0 and verdict.valid:
            self.meter.record(verification_record(key, now))
        return verdict

    async def _limited(self, verdict: Verdict, cost: int) -> Verdict:
        """Consume ``cost`` requests (or only look, for 0) and say what is left."""
        key, project = verdict.key, verdict.project
        assert key is not None
        try:
            if cost > 0:
                statuses = await self.limits.consume(key, project, requests=cost)
            else:
                statuses = await self.limits.status(key, project)
        except RateLimitedError as refused:
            status = (
                KeyStatus.USAGE_EXCEEDED
                if isinstance(refused, BudgetExceededError)
                else KeyStatus.RATE_LIMITED
            )
            left = await self.limits.status(key, project)
            return replace(
                verdict, status=status, limits=tuple(left), retry_after=refused.retry_after
            )
        except UnavailableError:
            return replace(verdict, status=KeyStatus.UNAVAILABLE)
        return replace(verdict, limits=tuple(statuses))


def verification_record(key: ApiKey, now: datetime) -> UsageRecord:
    """A verification that spends from a limit, as a metered call of the team's own API."""
    return UsageRecord(
        minute=minute_of(now),
        organization_id=key.organization_id,
        project_id=key.project_id or "",
        api_key_id=key.id,
        model="",
        endpoint=VERIFY_ENDPOINT,
        tokens=NO_TOKENS,
        cost_micro_usd=0,
        priced=True,
        status=200,
        latency_ms=0,
    )


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
