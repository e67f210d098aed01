"""``/v1/organization/admin_api_keys``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from keyplane.api.deps import AdminPrincipal
from keyplane.api.schemas import AdminKeyCreate, AdminKeyOut, CreatedAdminKeyOut, Deleted, ListOut
from keyplane.runtime.deps import AdminKeysDep

router = APIRouter(prefix="/v1/organization/admin_api_keys", tags=["admin keys"])


@router.get("")
async def list_admin_keys(
    principal: AdminPrincipal,
    admin_keys: AdminKeysDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
) -> ListOut[AdminKeyOut]:
    page = await admin_keys.list(
        organization_id=principal.organization_id, limit=limit, after=after
    )
    return ListOut.of(page, [AdminKeyOut.of(k) for k in page.items])


@router.post("", status_code=201)
async def create_admin_key(
    body: AdminKeyCreate, principal: AdminPrincipal, admin_keys: AdminKeysDep
) -> CreatedAdminKeyOut:
    issued = await admin_keys.create(
        organization_id=principal.organization_id, name=body.name, actor=principal.actor
    )
    return CreatedAdminKeyOut(**AdminKeyOut.of(issued.key).model_dump(), value=issued.plaintext)


@router.get("/{key_id}")
async def get_admin_key(
    key_id: str, principal: AdminPrincipal, admin_keys: AdminKeysDep
) -> AdminKeyOut:
    key = await admin_keys.get(organization_id=principal.organization_id, key_id=key_id)
    return AdminKeyOut.of(key)


@router.delete("/{key_id}")
async def revoke_admin_key(
    key_id: str, principal: AdminPrincipal, admin_keys: AdminKeysDep
) -> Deleted:
    key = await admin_keys.revoke(
        organization_id=principal.organization_id, key_id=key_id, actor=principal.actor
    )
    return Deleted(object="organization.admin_api_key.deleted", id=key.id)
