"""Typed FastAPI dependencies: each route names the parts of the runtime it uses.

``KeysDep`` is a ``KeyService``, ``MeterDep`` the usage meter, and so on; a route never gets
the whole runtime. The app puts the runtime on ``app.state.runtime`` of every FastAPI app it
builds (the admin API and the dashboard) once the lifespan has started it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from keyplane.audit.log import AuditLog
from keyplane.auth.last_used import LastUsedTracker
from keyplane.auth.principal import AdminAuthenticator
from keyplane.clock import Clock
from keyplane.config import Settings
from keyplane.limits.service import LimitService
from keyplane.runtime.runtime import Runtime
from keyplane.services.admin_keys import AdminKeyService
from keyplane.services.api_keys import KeyService
from keyplane.services.invites import InviteService
from keyplane.services.leaks import LeakService
from keyplane.services.members import MemberService
from keyplane.services.projects import ProjectService
from keyplane.services.rotation import RotationService
from keyplane.services.sessions import SessionService
from keyplane.services.users import UserService
from keyplane.services.verification import VerifyService
from keyplane.store.database import Database
from keyplane.usage.meter import Meter
from keyplane.usage.reports import UsageReports
from keyplane.webhooks.endpoint import WebhookEndpoints


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _settings(request: Request) -> Settings:
    return runtime_of(request).settings


def _clock(request: Request) -> Clock:
    return runtime_of(request).clock


def _now(request: Request) -> datetime:
    return runtime_of(request).clock()


def _database(request: Request) -> Database:
    return runtime_of(request).database


def _meter(request: Request) -> Meter:
    return runtime_of(request).meter


def _last_used(request: Request) -> LastUsedTracker:
    return runtime_of(request).last_used


def _limits(request: Request) -> LimitService:
    return runtime_of(request).limits


def _admin_auth(request: Request) -> AdminAuthenticator:
    return runtime_of(request).admin_auth


def _audit_log(request: Request) -> AuditLog:
    return runtime_of(request).audit_log


def _projects(request: Request) -> ProjectService:
    return runtime_of(request).projects


def _keys(request: Request) -> KeyService:
    return runtime_of(request).keys


def _rotation(request: Request) -> RotationService:
    return runtime_of(request).rotation


def _admin_keys(request: Request) -> AdminKeyService:
    return runtime_of(request).admin_keys


def _verification(request: Request) -> VerifyService:
    return runtime_of(request).verification


def _reports(request: Request) -> UsageReports:
    return runtime_of(request).reports


def _webhook_endpoints(request: Request) -> WebhookEndpoints:
    return runtime_of(request).webhook_endpoints


def _leaks(request: Request) -> LeakService:
    return runtime_of(request).leaks


def _users(request: Request) -> UserService:
    return runtime_of(request).users


def _members(request: Request) -> MemberService:
    return runtime_of(request).members


def _invites(request: Request) -> InviteService:
    return runtime_of(request).invites


def _sessions(request: Request) -> SessionService:
    return runtime_of(request).sessions


SettingsDep = Annotated[Settings, Depends(_settings)]
ClockDep = Annotated[Clock, Depends(_clock)]
# The runtime's "now", once per request (a fake clock in tests).
NowDep = Annotated[datetime, Depends(_now)]
DatabaseDep = Annotated[Database, Depends(_database)]
MeterDep = Annotated[Meter, Depends(_meter)]
LastUsedDep = Annotated[LastUsedTracker, Depends(_last_used)]
LimitsDep = Annotated[LimitService, Depends(_limits)]
AdminAuthDep = Annotated[AdminAuthenticator, Depends(_admin_auth)]
AuditLogDep = Annotated[AuditLog, Depends(_audit_log)]
ProjectsDep = Annotated[ProjectService, Depends(_projects)]
KeysDep = Annotated[KeyService, Depends(_keys)]
RotationDep = Annotated[RotationService, Depends(_rotation)]
AdminKeysDep = Annotated[AdminKeyService, Depends(_admin_keys)]
VerificationDep = Annotated[VerifyService, Depends(_verification)]
ReportsDep = Annotated[UsageReports, Depends(_reports)]
WebhookEndpointsDep = Annotated[WebhookEndpoints, Depends(_webhook_endpoints)]
LeaksDep = Annotated[LeakService, Depends(_leaks)]
UsersDep = Annotated[UserService, Depends(_users)]
MembersDep = Annotated[MemberService, Depends(_members)]
InvitesDep = Annotated[InviteService, Depends(_invites)]
SessionsDep = Annotated[SessionService, Depends(_sessions)]
