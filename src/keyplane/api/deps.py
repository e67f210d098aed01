"""FastAPI dependencies: the services, and the admin principal of a request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from keyplane.api.services import Services
from keyplane.auth.principal import Principal, authenticate_admin


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def require_admin(request: Request, services: ServicesDep) -> Principal:
    now = services.clock()
    async with services.database.session() as session:
        principal = await authenticate_admin(
            session,
            authorization=request.headers.get("authorization"),
            brand=services.settings.key_brand,
            now=now,
        )
    services.last_used.touch(principal.key.id, now)
    actor = principal.actor.at(
        ip_address=client_ip(request), user_agent=request.headers.get("user-agent")
    )
    return Principal(organization_id=principal.organization_id, key=principal.key, actor=actor)


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
