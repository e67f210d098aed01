"""The services an app holds on ``app.state``, built in its lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from keyplane.auth.last_used import LastUsedTracker
from keyplane.config import Settings
from keyplane.gateway.assembly import build_gateway
from keyplane.gateway.proxy import Gateway
from keyplane.leaks.github import TrustedKeys
from keyplane.leaks.service import LeakService
from keyplane.limits.assembly import build_limits
from keyplane.limits.service import Limits
from keyplane.services.admin_keys import AdminKeyService
from keyplane.services.api_keys import KeyService
from keyplane.services.clock import Clock, system_clock
from keyplane.services.invites import InviteService
from keyplane.services.members import MemberService
from keyplane.services.passwords import Passwords
from keyplane.services.projects import ProjectService
from keyplane.services.rotation import RotationService
from keyplane.services.server_secret import load_server_secret
from keyplane.services.sessions import SessionService
from keyplane.services.users import LoginPolicy, UserService
from keyplane.services.verification import VerifyService
from keyplane.store.database import Database
from keyplane.usage.prices import PriceTable
from keyplane.usage.reports import UsageReports
from keyplane.webhooks.endpoint import WebhookEndpoints
from keyplane.webhooks.sender import RetryPolicy, WebhookSender


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: Clock
    projects: ProjectService
    keys: KeyService
    rotation: RotationService
    admin_keys: AdminKeyService
    verify: VerifyService
    last_used: LastUsedTracker
    # Signed webhooks: ``await services.webhooks.enqueue(org_id, event_type, data)``.
    webhooks: WebhookSender
    webhook_endpoints: WebhookEndpoints
    leaks: LeakService
    reports: UsageReports
    # Rate limits and budgets: the gateway's admission, and /v1/keys/verify's.
    limits: Limits
    # The OpenAI-compatible gateway; its ``admission`` is where limits plug in.
    gateway: Gateway
    # People: accounts, members and invites, and the dashboard's sessions.
    users: UserService
    members: MemberService
    invites: InviteService
    sessions: SessionService

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock = system_clock) -> Services:
        database = Database(settings.resolved_database_url)
        brand = settings.key_brand
        webhooks = WebhookSender(database, policy=RetryPolicy.of(settings), clock=clock)
        last_used = LastUsedTracker(database)
        prices = PriceTable.load(settings.prices_file)
        limits = build_limits(
            settings, database=database, prices=prices, webhooks=webhooks, clock=clock
        )
        passwords = Passwords.of(settings)
        return cls(
            settings=settings,
            database=database,
            clock=clock,
            projects=ProjectService(database, clock=clock),
            keys=KeyService(database, brand=brand, clock=clock),
            rotation=RotationService(
                database,
                brand=brand,
                server_secret=load_server_secret(settings),
                idempotency_ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
                clock=clock,
            ),
            admin_keys=AdminKeyService(database, brand=brand, clock=clock),
            verify=VerifyService(database, brand=brand, clock=clock),
            last_used=last_used,
            webhooks=webhooks,
            webhook_endpoints=WebhookEndpoints(database),
            leaks=LeakService(
                database,
                brand=brand,
                trusted_keys=TrustedKeys.load(settings.github_scanning_keys),
                webhooks=webhooks,
                clock=clock,
            ),
            reports=UsageReports(database, clock=clock),
            limits=limits,
            gateway=build_gateway(
                settings,
                database=database,
                last_used=last_used,
                clock=clock,
                prices=prices,
                admission=limits,
            ),
            users=UserService(
                database,
                clock=clock,
                policy=LoginPolicy.of(settings),
                passwords=passwords,
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
        )
