"""The admin API's own dependency: the admin principal of a request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from keyplane.auth.principal import GATED_PRINCIPAL, Principal, seen_from
from keyplane.runtime.deps import AdminAuthDep, client_ip


async def require_admin(request: Request, admins: AdminAuthDep) -> Principal:
    ip_address, user_agent = client_ip(request), request.headers.get("user-agent")
    gated: Principal | None = getattr(request.state, GATED_PRINCIPAL, None)
    if gated is not None:  # authenticated before its body was read, from the same header
        return seen_from(gated, ip_address=ip_address, user_agent=user_agent)
    return await admins.authenticate(
        request.headers.get("authorization"), ip_address=ip_address, user_agent=user_agent
    )


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
