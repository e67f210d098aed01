"""``POST /v1/keys/verify``: always 200, with ``valid`` and a ``code``."""

from __future__ import annotations

from fastapi import APIRouter

from keyplane.api.deps import AdminPrincipal
from keyplane.api.schemas import (
    BudgetUsage,
    LimitsReport,
    LimitUsage,
    PermissionsOut,
    VerifyRequest,
    VerifyResponse,
    budget_out,
    rate_limits_out,
    unix,
)
from keyplane.keys.format import KeyKind
from keyplane.limits.backend import ScopeStatus
from keyplane.runtime.deps import VerificationDep
from keyplane.services.verification import permissions_of

router = APIRouter(tags=["verify"])

_KINDS = {KeyKind.PROJECT: "project", KeyKind.SERVICE_ACCOUNT: "service_account"}


@router.post("/v1/keys/verify")
async def verify_key(
    body: VerifyRequest, principal: AdminPrincipal, verification: VerificationDep
) -> VerifyResponse:
    verdict = await verification.verify(
        organization_id=principal.organization_id,
        presented=body.key,
        scopes=body.scopes,
        cost=body.cost,
    )
    key = verdict.key
    if key is None:
        return VerifyResponse(valid=False, code=verdict.status.value)
    permissions = permissions_of(key)
    return VerifyResponse(
        valid=verdict.valid,
        code=verdict.status.value,
        key_id=key.id,
        kind=_KINDS.get(key.kind, key.kind.value),
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
        rate_limits=rate_limits_out(key.rate_limits),
        budget=budget_out(key.budget),
        limits=[_report(s) for s in verdict.limits] or None,
        retry_after_seconds=verdict.retry_after,
    )


def _report(status: ScopeStatus) -> LimitsReport:
    scope, _, ident = status.scope.partition(":")
    requests = tokens = budget = None
    if status.requests_limit is not None:
        requests = LimitUsage(
            limit=status.requests_limit,
            remaining=status.requests_remaining or 0,
            reset_seconds=status.requests_reset,
        )
    if status.tokens_limit is not None:
        tokens = LimitUsage(
            limit=status.tokens_limit,
            remaining=status.tokens_remaining or 0,
            reset_seconds=status.tokens_reset,
        )
    if status.budget_limit is not None:
        left = status.budget_limit - status.budget_spent - status.budget_reserved
        budget = BudgetUsage(
            limit_micro_usd=status.budget_limit,
            spent_micro_usd=status.budget_spent,
            reserved_micro_usd=status.budget_reserved,
            remaining_micro_usd=max(left, 0),
        )
    return LimitsReport(
        scope="key" if scope == "key" else "project",
        id=ident,
        requests=requests,
        tokens=tokens,
        budget=budget,
    )
