"""``POST /v1/keys/verify``: always 200, with ``valid`` and a ``code``."""

from __future__ import annotations

from fastapi import APIRouter

from keyplane.api.deps import AdminPrincipal, ServicesDep
from keyplane.api.schemas import PermissionsOut, VerifyRequest, VerifyResponse, unix
from keyplane.services.verification import permissions_of

router = APIRouter(tags=["verify"])


@router.post("/v1/keys/verify")
async def verify_key(
    body: VerifyRequest, principal: AdminPrincipal, services: ServicesDep
) -> VerifyResponse:
    verdict = await services.verify.verify(
        organization_id=principal.organization_id, presented=body.key, scopes=body.scopes
    )
    key = verdict.key
    if key is None:
        return VerifyResponse(valid=False, code=verdict.status.value)
    if verdict.valid:
        services.last_used.touch(key.id, services.clock())
    permissions = permissions_of(key)
    return VerifyResponse(
        valid=verdict.valid,
        code=verdict.status.value,
        key_id=key.id,
        kind={"proj": "project", "svc": "service_account"}.get(key.kind, key.kind),
        name=key.name,
        project_id=key.project_id,
        permissions=PermissionsOut(
            mode=permissions.mode, scopes=list(permissions.effective_scopes())
        ),
        allowed_models=list(key.allowed_models),
        expires_at=unix(key.expires_at),
        metadata=dict(key.metadata_),
        enabled=key.enabled,
        missing_scopes=list(verdict.missing_scopes) or None,
    )
