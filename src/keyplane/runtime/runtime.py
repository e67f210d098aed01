"""``Runtime``: the parts every surface shares, built and started once, stopped in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from keyplane.audit.log import AuditLog
from keyplane.auth.cache import KeyCache
from keyplane.auth.last_used import LastUsedTracker
from keyplane.auth.principal import AdminAuthenticator
from keyplane.clock import Clock, system_clock
from keyplane.config import Settings
from keyplane.leaks.github import TrustedKeys
from keyplane.limits.service import LimitService
from keyplane.runtime.housekeeping import Housekeeping
from keyplane.runtime.limits import build_limits
from keyplane.services.admin_keys import AdminKeyService
from keyplane.services.admin_resources import AdminResources
from keyplane.services.api_keys import KeyService
from keyplane.services.invites import InviteService
from keyplane.services.leaks import LeakService
from keyplane.services.members import MemberService
from keyplane.services.passwords import Passwords
from keyplane.services.projects import ProjectService
from keyplane.services.rotation import RotationService
from keyplane.services.server_secret import load_server_secret
from keyplane.services.sessions import SessionService
from keyplane.services.users import LoginPolicy, UserService
from keyplane.services.verification import VerifyService
from keyplane.store.database import Database, Deadlines
from keyplane.tracing.gateway import GatewayTracer
from keyplane.usage.journal import Journal
from keyplane.usage.meter import Meter
from keyplane.usage.prices import PriceTable
from keyplane.usage.reports import UsageReports
from keyplane.usage.rollup import Retention, RollUp
from keyplane.webhooks.endpoint import WebhookEndpoints
from keyplane.webhooks.sender import RetryPolicy, WebhookSender


@dataclass(frozen=True, slots=True)
class Runtime:
    """One per app. Surfaces never take the whole of it: ``deps`` hands out its parts."""

    settings: Settings
    clock: Clock
    # Derives idempotent rotations, seals the dashboard's one-time secrets; never leaves.
    server_secret: bytes
    database: Database
    prices: PriceTable
    # Usage of every call, summed in memory and written in batches (the gateway's and verify's).
    meter: Meter
    # Keys of gateway calls, cached for at most a second (revocation shows within it).
    key_cache: KeyCache
    last_used: LastUsedTracker
    # Rate limits and budgets: the gateway's admission, and /v1/keys/verify's.
    limits: LimitService
    admin_auth: AdminAuthenticator
    audit_log: AuditLog
    projects: ProjectService
    keys: KeyService
    rotation: RotationService
    admin_keys: AdminKeyService
    verification: VerifyService
    reports: UsageReports
    # Usage roll-ups and the audit log's retention, in the background.
    housekeeping: Housekeeping
    # A span per gateway call when KEYPLANE_OTEL_TRACES is on; None costs the gateway nothing.
    tracer: GatewayTracer | None
    # Signed webhooks: ``await webhooks.enqueue(org_id, event_type, data)``.
    webhooks: WebhookSender
    webhook_endpoints: WebhookEndpoints
    leaks: LeakService
    # People: accounts, members and invites, and the dashboard's sessions.
    users: UserService
    members: MemberService
    invites: InviteService
    sessions: SessionService
    # OpenAI's admin resources over the parts above: service accounts, per-model limits,
    # model permissions, spend limits and alerts, audit events in OpenAI's shape.
    admin: AdminResources

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock = system_clock) -> Runtime:
        """Every part, wired; nothing connects or runs yet (``running`` starts them)."""
        database = Database(settings.resolved_database_url, deadlines=Deadlines.of(settings))
        brand = settings.key_brand
        prices = PriceTable.load(settings.prices_file, default=settings.default_price)
        journal = None
        if settings.usage_journal:
            journal = Journal(
                settings.data_dir / "journal", fsync_seconds=settings.usage_journal_fsync_seconds
            )
        meter = Meter(database, interval_seconds=settings.usage_flush_seconds, journal=journal)
        webhooks = WebhookSender(database, policy=RetryPolicy.of(settings), clock=clock)
        last_used = LastUsedTracker(database)
        limits = build_limits(
            settings, database=database, meter=meter, prices=prices, webhooks=webhooks, clock=clock
        )
        passwords = Passwords.of(settings)
        server_secret = load_server_secret(settings)
        retention = retention_of(settings)
        audit_log = AuditLog(database)
        return cls(
            settings=settings,
            clock=clock,
            server_secret=server_secret,
            database=database,
            prices=prices,
            meter=meter,
            key_cache=KeyCache(database, brand=brand, ttl_seconds=settings.key_cache_ttl_seconds),
            last_used=last_used,
            limits=limits,
            admin_auth=AdminAuthenticator(database, brand=brand, last_used=last_used, clock=clock),
            audit_log=audit_log,
            projects=ProjectService(database, clock=clock),
            keys=KeyService(database, brand=brand, clock=clock),
            rotation=RotationService(
                database,
                brand=brand,
                server_secret=server_secret,
                idempotency_ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
                clock=clock,
            ),
            admin_keys=AdminKeyService(database, brand=brand, clock=clock),
            verification=VerifyService(
                database, brand=brand, limits=limits, meter=meter, last_used=last_used, clock=clock
            ),
            reports=UsageReports(database, clock=clock),
            housekeeping=Housekeeping(
                RollUp(database, retention=retention, clock=clock),
                audit_log,
                audit_retention=_days(settings.audit_retention_days),
                interval_seconds=settings.housekeeping_interval_seconds,
                clock=clock,
            ),
            tracer=GatewayTracer.from_environment() if settings.otel_traces else None,
            webhooks=webhooks,
            webhook_endpoints=WebhookEndpoints(database),
            leaks=LeakService(
                database,
                brand=brand,
                trusted_keys=TrustedKeys.load(settings.github_scanning_keys),
                webhooks=webhooks,
                clock=clock,
            ),
            users=UserService(
                database, clock=clock, policy=LoginPolicy.of(settings), passwords=passwords
            ),
            members=MemberService(database, clock=clock),
            invites=InviteService(
                database,
                clock=clock,
                lifetime=timedelta(seconds=settings.invite_ttl_seconds),
                passwords=passwords,
            ),
            sessions=SessionService(
                database, clock=clock, lifetime=timedelta(seconds=settings.session_ttl_seconds)
            ),
            admin=AdminResources.build(database, brand=brand, clock=clock),
        )

    @classmethod
    @asynccontextmanager
    async def running(
        cls, settings: Settings, *, clock: Clock = system_clock
    ) -> AsyncIterator[Runtime]:
        """A started runtime; on the way out, pending usage and last-used times are written.

        Usage goes first: a flush that fails leaves the journal for the next start.
        """
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        runtime = cls.build(settings, clock=clock)
        # Limits first, so that another instance seeding a budget while this one replays the
        # journals of processes that died waits for them; this instance's own seeds come
        # after the replay (the first budgeted call seeds).
        await runtime.limits.start()
        try:
            await runtime.meter.open()
        except BaseException:
            await runtime.limits.close()
            raise
        runtime.last_used.start()
        runtime.webhooks.start()
        runtime.meter.start()
        runtime.housekeeping.start()
        try:
            yield runtime
        finally:
            await runtime.housekeeping.stop()
            # Limits first: a recount asked of this instance after its last flush would find
            # the journal closed.
            await runtime.limits.close()
            await runtime.meter.stop()
            if runtime.tracer is not None:
                runtime.tracer.shutdown()
            await runtime.webhooks.stop()
            await runtime.last_used.stop()
            await runtime.database.close()


def retention_of(settings: Settings) -> Retention:
    days = _days(settings.usage_day_retention_days)
    return Retention(
        minutes=timedelta(days=settings.usage_minute_retention_days),
        hours=timedelta(days=settings.usage_hour_retention_days),
        days=days,
    )


def _days(days: float | None) -> timedelta | None:
    return None if days is None else timedelta(days=days)
