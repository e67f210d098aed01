"""``/v1/organization/projects/{project_id}/service_accounts`` and their keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from keyplane.api.deps import AdminPrincipal
from keyplane.api.schemas import ListOut, Name, Strict, unix
from keyplane.keys.permissions import PermissionMode, Permissions
from keyplane.runtime.deps import AdminResourcesDep, NowDep
from keyplane.services.api_keys import IssuedKey, KeySpec
from keyplane.store.models import ServiceAccount

router = APIRouter(
    prefix="/v1/organization/projects/{project_id}/service_accounts", tags=["service accounts"]
)
Lifetime = Annotated[int | None, Field(default=None, ge=1, le=365 * 24 * 3600)]


class ServiceAccountCreate(Strict):
    name: Name
    create_service_account_only: bool | None = None
    expires_in_seconds: Lifetime = None


class ServiceAccountUpdate(Strict):
    name: Name | None = None
    role: Literal["member", "owner"] | None = None


class ServiceAccountKeyCreate(Strict):
    name: Name | None = None
    scopes: list[str] | None = Field(default=None, max_length=50)
    expires_in_seconds: Lifetime = None


class ServiceAccountOut(BaseModel):
    object: Literal["organization.project.service_account"] = "organization.project.service_account"
    id: str
    name: str
    role: str
    created_at: int
    project_id: str

    @classmethod
    def of(cls, account: ServiceAccount) -> ServiceAccountOut:
        return cls(
            id=account.id,
            name=account.name,
            role=account.role,
            created_at=unix(account.created_at) or 0,
            project_id=account.project_id,
        )


class ServiceAccountKeyOut(BaseModel):
    object: Literal["organization.project.service_account.api_key"] = (
        "organization.project.service_account.api_key"
    )
    id: str
    name: str
    created_at: int
    value: str = Field(description="The secret. Shown in this response only; store it now.")
    redacted_value: str
    expires_at: int | None

    @classmethod
    def of(cls, issued: IssuedKey) -> ServiceAccountKeyOut:
        key = issued.key
        return cls(
            id=key.id,
            name=key.name,
            created_at=unix(key.created_at) or 0,
            value=issued.plaintext,
            redacted_value=key.redacted_value,
            expires_at=unix(key.expires_at),
        )


class ServiceAccountCreatedOut(ServiceAccountOut):
    api_key: ServiceAccountKeyOut | None


@router.get("")
async def list_service_accounts(
    project_id: str,
    principal: AdminPrincipal,
    admin: AdminResourcesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
) -> ListOut[ServiceAccountOut]:
    page = await admin.service_accounts.list(
        organization_id=principal.organization_id, project_id=project_id, limit=limit, after=after
    )
    return ListOut.of(page, [ServiceAccountOut.of(a) for a in page.items])


@router.post("")
async def create_service_account(
    project_id: str,
    body: ServiceAccountCreate,
    principal: AdminPrincipal,
    admin: AdminResourcesDep,
    now: NowDep,
) -> ServiceAccountCreatedOut:
    """An account and its first key, whose secret this answer shows once."""
    created = await admin.service_accounts.create(
        organization_id=principal.organization_id,
        project_id=project_id,
        name=body.name,
        actor=principal.actor,
        with_key=not body.create_service_account_only,
        key_expires_at=_expiry(now, body.expires_in_seconds),
        now=now,  # a lifetime counts from the key's creation, to the second
    )
    shown = ServiceAccountOut.of(created.account).model_dump()
    key = None if created.key is None else ServiceAccountKeyOut.of(created.key)
    return ServiceAccountCreatedOut(**shown, api_key=key)


@router.get("/{service_account_id}")
async def get_service_account(
    project_id: str, service_account_id: str, principal: AdminPrincipal, admin: AdminResourcesDep
) -> ServiceAccountOut:
    account = await admin.service_accounts.get(
        organization_id=principal.organization_id,
        project_id=project_id,
        service_account_id=service_account_id,
    )
    return ServiceAccountOut.of(account)


@router.post("/{service_account_id}")
async def update_service_account(
    project_id: str,
    service_account_id: str,
    body: ServiceAccountUpdate,
    principal: AdminPrincipal,
    admin: AdminResourcesDep,
) -> ServiceAccountOut:
    account = await admin.service_accounts.update(
        organization_id=principal.organization_id,
        project_id=project_id,
        service_account_id=service_account_id,
        name=body.name,
        role=body.role,
        actor=principal.actor,
    )
    return ServiceAccountOut.of(account)


@router.delete("/{service_account_id}")
async def delete_service_account(
    project_id: str, service_account_id: str, principal: AdminPrincipal, admin: AdminResourcesDep
) -> dict[str, Any]:
    """Delete the account; every key it owns is revoked with it."""
    account = await admin.service_accounts.delete(
        organization_id=principal.organization_id,
        project_id=project_id,
        service_account_id=service_account_id,
        actor=principal.actor,
    )
    return {
        "object": "organization.project.service_account.deleted",
        "id": account.id,
        "deleted": True,
    }


@router.post("/{service_account_id}/api_keys")
async def create_service_account_key(
    project_id: str,
    service_account_id: str,
    principal: AdminPrincipal,
    admin: AdminResourcesDep,
    now: NowDep,
    body: ServiceAccountKeyCreate | None = None,
) -> ServiceAccountKeyOut:
    """Another key for the account; ``scopes`` restrict it, as on any keyplane key."""
    body = body or ServiceAccountKeyCreate()
    permissions = (
        Permissions(mode=PermissionMode.RESTRICTED, scopes=tuple(body.scopes))
        if body.scopes
        else Permissions()
    )
    issued = await admin.service_accounts.add_key(
        organization_id=principal.organization_id,
        project_id=project_id,
        service_account_id=service_account_id,
        spec=KeySpec(
            name=body.name or "service account key",
            permissions=permissions,
            expires_at=_expiry(now, body.expires_in_seconds),
        ),
        actor=principal.actor,
        now=now,
    )
    return ServiceAccountKeyOut.of(issued)


def _expiry(now: Any, seconds: int | None) -> Any:
    return None if seconds is None else now + timedelta(seconds=seconds)
