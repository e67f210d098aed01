"""Spend limits and spend alerts of the organisation and of each project.

OpenAI's face of keyplane's budgets (``services/spend.py``): amounts in cents, a monthly
interval, USD. Alerts are delivered to the organisation's webhook (``budget.threshold_crossed``),
so an e-mail channel must come with no recipients; keyplane refuses recipients rather than
pretend to mail them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from keyplane.api.deps import AdminPrincipal
from keyplane.api.schemas import Strict
from keyplane.api.unsupported import refuse
from keyplane.limits.policy import Budget
from keyplane.runtime.deps import AdminResourcesDep
from keyplane.services.spend import MICRO_PER_CENT, SpendAlert, alerts_of

router = APIRouter(prefix="/v1/organization", tags=["spend"])
Cents = Annotated[int, Field(ge=0, le=10**14)]


class SpendLimitUpdate(Strict):
    threshold_amount: Annotated[int, Field(ge=1, le=10**14)]
    currency: Literal["USD"]
    interval: Literal["month"]


class Channel(Strict):
    type: Literal["email"]
    recipients: list[str] = Field(max_length=50)
    subject_prefix: str | None = None


class SpendAlertBody(Strict):
    threshold_amount: Cents
    currency: Literal["USD"]
    interval: Literal["month"]
    notification_channel: Channel

    def check(self) -> None:
        if self.notification_channel.recipients:
            raise refuse(
                "notification_channel.recipients",
                "Spend alerts go to the organisation's webhook as budget.threshold_crossed; "
                "send an empty list.",
            )
        if self.notification_channel.subject_prefix:
            raise refuse("notification_channel.subject_prefix")


def _limit_view(kind: str, budget: Budget | None) -> dict[str, Any]:
    return {
        "object": f"{kind}.spend_limit",
        "threshold_amount": 0 if budget is None else budget.limit_micro_usd // MICRO_PER_CENT,
        "currency": "USD",
        "interval": "month" if budget is None else budget.period.value,
        "enforcement": {"status": "inactive" if budget is None else "enforcing"},
        "limit_micro_usd": None if budget is None else budget.limit_micro_usd,
    }


def _alert_view(kind: str, alert: SpendAlert) -> dict[str, Any]:
    return {
        "object": f"{kind}.spend_alert",
        "id": alert.id,
        "threshold_amount": alert.threshold_cents,
        "currency": "USD",
        "interval": "month",
        "notification_channel": {"type": "email", "recipients": []},
        "threshold_percent": alert.percent,
    }


class _Scope(BaseModel):
    """The organisation (``project_id`` None) or one of its projects."""

    kind: Literal["organization", "project"]
    project_id: str | None


def _scope(project_id: str | None) -> _Scope:
    return _Scope(kind="project" if project_id else "organization", project_id=project_id)


# --- spend limits -------------------------------------------------------------------------


async def _get_limit(principal: AdminPrincipal, admin: AdminResourcesDep, scope: _Scope) -> Any:
    budget = await admin.spend.budget(
        organization_id=principal.organization_id, project_id=scope.project_id
    )
    return _limit_view(scope.kind, budget)


async def _set_limit(
    principal: AdminPrincipal, admin: AdminResourcesDep, scope: _Scope, cents: int | None
) -> Any:
    budget = await admin.spend.set_limit(
        organization_id=principal.organization_id,
        project_id=scope.project_id,
        threshold_cents=cents,
        actor=principal.actor,
    )
    if cents is None:
        return {"object": f"{scope.kind}.spend_limit.deleted", "deleted": True}
    return _limit_view(scope.kind, budget)


@router.get("/spend_limit")
async def get_org_spend_limit(principal: AdminPrincipal, admin: AdminResourcesDep) -> Any:
    return await _get_limit(principal, admin, _scope(None))


@router.post("/spend_limit")
async def set_org_spend_limit(
    body: SpendLimitUpdate, principal: AdminPrincipal, admin: AdminResourcesDep
) -> Any:
    return await _set_limit(principal, admin, _scope(None), body.threshold_amount)


@router.delete("/spend_limit")
async def delete_org_spend_limit(principal: AdminPrincipal, admin: AdminResourcesDep) -> Any:
    return await _set_limit(principal, admin, _scope(None), None)


@router.get("/projects/{project_id}/spend_limit")
async def get_project_spend_limit(
    project_id: str, principal: AdminPrincipal, admin: AdminResourcesDep
) -> Any:
    return await _get_limit(principal, admin, _scope(project_id))


@router.post("/projects/{project_id}/spend_limit")
async def set_project_spend_limit(
    project_id: str, body: SpendLimitUpdate, principal: AdminPrincipal, admin: AdminResourcesDep
) -> Any:
    return await _set_limit(principal, admin, _scope(project_id), body.threshold_amount)


@router.delete("/projects/{project_id}/spend_limit")
async def delete_project_spend_limit(
    project_id: str, principal: AdminPrincipal, admin: AdminResourcesDep
) -> Any:
    return await _set_limit(principal, admin, _scope(project_id), None)


# --- spend alerts -------------------------------------------------------------------------


async def _list_alerts(
    principal: AdminPrincipal,
    admin: AdminResourcesDep,
    scope: _Scope,
    *,
    limit: int,
    order: str,
    after: str | None,
    before: str | None,
) -> dict[str, Any]:
    budget = await admin.spend.budget(
        organization_id=principal.organization_id, project_id=scope.project_id
    )
    alerts = alerts_of(budget)
    if order == "desc":
        alerts.reverse()
    ids = [a.id for a in alerts]
    if after in ids:
        alerts = alerts[ids.index(after) + 1 :]
    elif before in ids:
        alerts = alerts[: ids.index(before)][-limit:]
    page = alerts[:limit]
    return {
        "object": "list",
        "data": [_alert_view(scope.kind, a) for a in page],
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
        "has_more": len(alerts) > limit,
    }


async def _save_alert(
    principal: AdminPrincipal,
    admin: AdminResourcesDep,
    scope: _Scope,
    body: SpendAlertBody,
    replacing: str | None = None,
) -> dict[str, Any]:
    body.check()
    alert = await admin.spend.add_alert(
        organization_id=principal.organization_id,
        project_id=scope.project_id,
        threshold_cents=body.threshold_amount,
        actor=principal.actor,
        replacing=replacing,
    )
    return _alert_view(scope.kind, alert)


async def _get_alert(
    principal: AdminPrincipal, admin: AdminResourcesDep, scope: _Scope, alert_id: str
) -> dict[str, Any]:
    alert = await admin.spend.alert(
        organization_id=principal.organization_id, project_id=scope.project_id, alert_id=alert_id
    )
    return _alert_view(scope.kind, alert)


async def _delete_alert(
    principal: AdminPrincipal, admin: AdminResourcesDep, scope: _Scope, alert_id: str
) -> dict[str, Any]:
    await admin.spend.delete_alert(
        organization_id=principal.organization_id,
        project_id=scope.project_id,
        alert_id=alert_id,
        actor=principal.actor,
    )
    return {"object": f"{scope.kind}.spend_alert.deleted", "id": alert_id, "deleted": True}


PageLimit = Annotated[int, Query(ge=1, le=100)]
Order = Literal["asc", "desc"]


@router.get("/spend_alerts")
async def list_org_spend_alerts(
    principal: AdminPrincipal,
    admin: AdminResourcesDep,
    limit: PageLimit = 20,
    order: Order = "asc",
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    return await _list_alerts(
        principal, admin, _scope(None), limit=limit, order=order, after=after, before=before
    )


@router.post("/spend_alerts")
async def create_org_spend_alert(
    body: SpendAlertBody, principal: AdminPrincipal, admin: AdminResourcesDep
) -> dict[str, Any]:
    return await _save_alert(principal, admin, _scope(None), body)


@router.get("/spend_alerts/{alert_id}")
async def get_org_spend_alert(
    alert_id: str, principal: AdminPrincipal, admin: AdminResourcesDep
) -> dict[str, Any]:
    return await _get_alert(principal, admin, _scope(None), alert_id)


@router.post("/spend_alerts/{alert_id}")
async def update_org_spend_alert(
    alert_id: str, body: SpendAlertBody, principal: AdminPrincipal, admin: AdminResourcesDep
) -> dict[str, Any]:
    return await _save_alert(principal, admin, _scope(None), body, replacing=alert_id)


@router.delete("/spend_alerts/{alert_id}")
async def delete_org_spend_alert(
    alert_id: str, principal: AdminPrincipal, admin: AdminResourcesDep
) -> dict[str, Any]:
    return await _delete_alert(principal, admin, _scope(None), alert_id)


@router.get("/projects/{project_id}/spend_alerts")
async def list_project_spend_alerts(
    project_id: str,
    principal: AdminPrincipal,
    admin: AdminResourcesDep,
    limit: PageLimit = 20,
    order: Order = "asc",
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    return await _list_alerts(
        principal, admin, _scope(project_id), limit=limit, order=order, after=after, before=before
    )


@router.post("/projects/{project_id}/spend_alerts")
async def create_project_spend_alert(
    project_id: str, body: SpendAlertBody, principal: AdminPrincipal, admin: AdminResourcesDep
) -> dict[str, Any]:
    return await _save_alert(principal, admin, _scope(project_id), body)


@router.get("/projects/{project_id}/spend_alerts/{alert_id}")
async def get_project_spend_alert(
    project_id: str, alert_id: str, principal: AdminPrincipal, admin: AdminResourcesDep
) -> dict[str, Any]:
    return await _get_alert(principal, admin, _scope(project_id), alert_id)


@router.post("/projects/{project_id}/spend_alerts/{alert_id}")
async def update_project_spend_alert(
    project_id: str,
    alert_id: str,
    body: SpendAlertBody,
    principal: AdminPrincipal,
    admin: AdminResourcesDep,
) -> dict[str, Any]:
    return await _save_alert(principal, admin, _scope(project_id), body, replacing=alert_id)


@router.delete("/projects/{project_id}/spend_alerts/{alert_id}")
async def delete_project_spend_alert(
    project_id: str, alert_id: str, principal: AdminPrincipal, admin: AdminResourcesDep
) -> dict[str, Any]:
    return await _delete_alert(principal, admin, _scope(project_id), alert_id)
