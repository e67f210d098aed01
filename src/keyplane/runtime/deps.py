"""Typed FastAPI dependencies: each route names the parts of the runtime it uses.

``KeysDep`` is the ``KeyService``, ``NowDep`` the runtime clock's now, and so on; a route
never gets the whole runtime. The app puts the runtime on ``app.state.runtime`` of every
FastAPI app it builds (the admin API and the dashboard) once the lifespan has started it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from keyplane.audit.log import AuditLog
from keyplane.auth.principal import AdminAuthenticator
from keyplane.clock import Clock
from keyplane.config import Settings
from keyplane.runtime.runtime import Runtime
from keyplane.services.admin_keys import AdminKeyService
from keyplane.services.admin_resources import AdminResources
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
from keyplane.usage.reports import UsageReports
from keyplane.webhooks.endpoint import WebhookEndpoints

T = TypeVar("T")


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _part(get: Callable[[Runtime], T]) -> Callable[[Request], T]:
    """The dependency that hands a route one part of the runtime."""

    def part(request: Request) -> T:
        return get(runtime_of(request))

    return part


SettingsDep = Annotated[Settings, Depends(_part(lambda runtime: runtime.settings))]
ClockDep = Annotated[Clock, Depends(_part(lambda runtime: runtime.clock))]
# The runtime's "now", once per request (a fake clock in tests).
NowDep = Annotated[datetime, Depends(_part(lambda runtime: runtime.clock()))]
DatabaseDep = Annotated[Database, Depends(_part(lambda runtime: runtime.database))]
AdminAuthDep = Annotated[AdminAuthenticator, Depends(_part(lambda runtime: runtime.admin_auth))]
AuditLogDep = Annotated[AuditLog, Depends(_part(lambda runtime: runtime.audit_log))]
ProjectsDep = Annotated[ProjectService, Depends(_part(lambda runtime: runtime.projects))]
KeysDep = Annotated[KeyService, Depends(_part(lambda runtime: runtime.keys))]
RotationDep = Annotated[RotationService, Depends(_part(lambda runtime: runtime.rotation))]
AdminKeysDep = Annotated[AdminKeyService, Depends(_part(lambda runtime: runtime.admin_keys))]
VerificationDep = Annotated[VerifyService, Depends(_part(lambda runtime: runtime.verification))]
ReportsDep = Annotated[UsageReports, Depends(_part(lambda runtime: runtime.reports))]
WebhookEndpointsDep = Annotated[
    WebhookEndpoints, Depends(_part(lambda runtime: runtime.webhook_endpoints))
]
LeaksDep = Annotated[LeakService, Depends(_part(lambda runtime: runtime.leaks))]
UsersDep = Annotated[UserService, Depends(_part(lambda runtime: runtime.users))]
MembersDep = Annotated[MemberService, Depends(_part(lambda runtime: runtime.members))]
InvitesDep = Annotated[InviteService, Depends(_part(lambda runtime: runtime.invites))]
SessionsDep = Annotated[SessionService, Depends(_part(lambda runtime: runtime.sessions))]
AdminResourcesDep = Annotated[AdminResources, Depends(_part(lambda runtime: runtime.admin))]
