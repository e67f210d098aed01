"""``POST /v1/keys/verify``: always 200, with ``valid`` and a ``code``."""

from __future__ import annotations

from fastapi import APIRouter

from keyplane.api.deps import AdminPrincipal, ServicesDep
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
from keyplane.auth.resolve import KeyStatus
from keyplane.errors import RateLimitedError, UnavailableError
from keyplane.limits.backend import ScopeStatus
from keyplane.services.verification import Verdict, permissions_of
from keyplane.usage.records import NO_TOKENS, UsageRecord

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
    status, retry_after = verdict.status, None
    statuses: list[ScopeStatus] = []
    if verdict.valid:
        services.last_used.touch(key.id, services.clock())
        status, statuses, retry_after = await _limits(services, verdict, body.cost)
        if body.cost > 0 and status is KeyStatus.VALID:
            _meter(services, verdict)
    permissions = permissions_of(key)
    return VerifyResponse(
        valid=status is KeyStatus.VALID,
        code=status.value,
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
        rate_limits=rate_limits_out(key.rate_limits),
        budget=budget_out(key.budget),
        limits=[_report(s) for s in statuses] or None,
        retry_after_seconds=retry_after,
    )


async def _limits(
    services: ServicesDep, verdict: Verdict, cost: int
) -> tuple[KeyStatus, list[ScopeStatus], float | None]:
    """Consume ``cost`` requests (or only look, for 0) and say what is left."""
    assert verdict.key is not None
    try:
        if cost > 0:
            statuses = await services.limits.consume(verdict.key, verdict.project, requests=cost)
        else:
            statuses = await services.limits.status(verdict.key, verdict.project)
    except RateLimitedError as refused:
        code = (
            KeyStatus.USAGE_EXCEEDED
            if refused.code == "insufficient_quota"
            else KeyStatus.RATE_LIMITED
        )
        retry = float(refused.headers.get("retry-after", "1"))
        statuses = await services.limits.status(verdict.key, verdict.project)
        return code, statuses, retry
    except UnavailableError:
        return KeyStatus.UNAVAILABLE, [], None
    return KeyStatus.VALID, statuses, None


def _meter(services: ServicesDep, verdict: Verdict) -> None:
    """A verification that spends from a limit is a metered call of the team's own API."""
    assert verdict.key is not None
    now = services.clock()
    services.gateway.meter.record(
        UsageRecord(
            minute=int(now.timestamp()) // 60 * 60,
            organization_id=verdict.key.organization_id,
            project_id=verdict.key.project_id or "",
            api_key_id=verdict.key.id,
            model="",
            endpoint="verify",
            tokens=NO_TOKENS,
            cost_micro_usd=0,
            priced=True,
            status=200,
            latency_ms=0,
        )
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
