"""``/v1/organization/admin_api_keys``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from keyplane.api.deps import AdminPrincipal, ServicesDep
from keyplane.api.schemas import AdminKeyCreate, AdminKeyOut, CreatedAdminKeyOut, Deleted, ListOut

router = APIRouter(prefix="/v1/organization/admin_api_keys", tags=["admin keys"])


@router.get("")
async def list_admin_keys(
    principal: AdminPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
) -> ListOut[AdminKeyOut]:
    page = await services.admin_keys.list(
        organization_id=principal.organization_id, limit=limit, after=after
    )
    return ListOut.of(page, [AdminKeyOut.of(k) for k in page.items])


@router.post("", status_code=201)
async def create_admin_key(
    body: AdminKeyCreate, principal: AdminPrincipal, services: ServicesDep
) -> CreatedAdminKeyOut:
    issued = await services.admin_keys.create(
        organization_id=principal.organization_id, name=body.name, actor=principal.actor
    )
    return CreatedAdminKeyOut(**AdminKeyOut.of(issued.key).model_dump(), value=issued.plaintext)


@router.get("/{key_id}")
async def get_admin_key(
    key_id: str, principal: AdminPrincipal, services: ServicesDep
) -> AdminKeyOut:
    key = await services.admin_keys.get(organization_id=principal.organization_id, key_id=key_id)
    return AdminKeyOut.of(key)


@router.delete("/{key_id}")
async def revoke_admin_key(
    key_id: str, principal: AdminPrincipal, services: ServicesDep
) -> Deleted:
    key = await services.admin_keys.revoke(
        organization_id=principal.organization_id, key_id=key_id, actor=principal.actor
    )
    return Deleted(object="organization.admin_api_key.deleted", id=key.id)
