"""The admin API's own dependency: the admin principal of a request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from keyplane.auth.principal import Principal
from keyplane.runtime.deps import AdminAuthDep, client_ip


async def require_admin(request: Request, admins: AdminAuthDep) -> Principal:
    return await admins.authenticate(
        request.headers.get("authorization"),
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
