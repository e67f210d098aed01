"""``/v1/organization/admin_api_keys``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from keyplane.api.deps import AdminPrincipal
from keyplane.api.schemas import (
    AdminKeyCreate,
    AdminKeyOut,
    CreatedAdminKeyOut,
    Deleted,
    ListOut,
    from_unix,
)
from keyplane.errors import ValidationFailedError
from keyplane.runtime.deps import AdminKeysDep, DatabaseDep, NowDep
from keyplane.services.owners import owners_of

router = APIRouter(prefix="/v1/organization/admin_api_keys", tags=["admin keys"])


@router.get("")
async def list_admin_keys(
    principal: AdminPrincipal,
    admin_keys: AdminKeysDep,
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
    order: Literal["asc", "desc"] = "asc",
) -> ListOut[AdminKeyOut]:
    page = await admin_keys.list(
        organization_id=principal.organization_id,
        limit=limit,
        after=after,
        newest_first=order == "desc",
    )
    owners = await owners_of(database, page.items)
    return ListOut.of(page, [AdminKeyOut.of(k, owners=owners) for k in page.items])


@router.post("")
async def create_admin_key(
    body: AdminKeyCreate,
    principal: AdminPrincipal,
    admin_keys: AdminKeysDep,
    database: DatabaseDep,
    now: NowDep,
) -> CreatedAdminKeyOut:
    """200 as OpenAI answers; ``expires_in_seconds`` (OpenAI's) or ``expires_at`` (Unix)."""
    if body.expires_in_seconds is not None and body.expires_at is not None:
        raise ValidationFailedError(
            "Give expires_in_seconds or expires_at, not both.", param="expires_at"
        )
    expires_at = from_unix(body.expires_at)
    if body.expires_in_seconds is not None:
        expires_at = now + timedelta(seconds=body.expires_in_seconds)
    issued = await admin_keys.create(
        organization_id=principal.organization_id,
        name=body.name,
        actor=principal.actor,
        expires_at=expires_at,
        now=now,  # expires_in_seconds counts from the key's creation, to the second
    )
    owners = await owners_of(database, [issued.key])
    view = AdminKeyOut.of(issued.key, owners=owners)
    return CreatedAdminKeyOut(**view.model_dump(), value=issued.plaintext)


@router.get("/{key_id}")
async def get_admin_key(
    key_id: str, principal: AdminPrincipal, admin_keys: AdminKeysDep, database: DatabaseDep
) -> AdminKeyOut:
    key = await admin_keys.get(organization_id=principal.organization_id, key_id=key_id)
    return AdminKeyOut.of(key, owners=await owners_of(database, [key]))


@router.delete("/{key_id}")
async def revoke_admin_key(
    key_id: str, principal: AdminPrincipal, admin_keys: AdminKeysDep
) -> Deleted:
    key = await admin_keys.revoke(
        organization_id=principal.organization_id, key_id=key_id, actor=principal.actor
    )
    return Deleted(object="organization.admin_api_key.deleted", id=key.id)
