"""Spend limits and spend alerts, OpenAI's face of keyplane's budgets.

A project's spend limit is its budget; the organisation's is the organisation's budget, over
every project. OpenAI counts in cents, keyplane in micro-USD: a cent is 10,000 micro-USD.
A spend alert is one of the budget's alert thresholds, which keyplane keeps as whole
percentages of the limit (so an alert needs a limit, and an amount that is a whole percent
of it); alerts are delivered as ``budget.alert`` webhooks, like every budget alert.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.clock import Clock, system_clock
from keyplane.errors import BadRequestError, ConflictError, NotFoundError
from keyplane.limits.policy import Budget, Period
from keyplane.services.projects import get_project
from keyplane.store.database import Database
from keyplane.store.models import Organization, Project

MICRO_PER_CENT = 10_000
ALERT_PREFIX = "spal_"
MAX_PERCENT = 1000


@dataclass(frozen=True, slots=True)
class SpendAlert:
    id: str
    percent: int
    threshold_cents: int


def alerts_of(budget: Budget | None) -> list[SpendAlert]:
    if budget is None:
        return []
    return [
        SpendAlert(
            id=f"{ALERT_PREFIX}{percent}",
            percent=percent,
            threshold_cents=budget.limit_micro_usd * percent // 100 // MICRO_PER_CENT,
        )
        for percent in budget.alert_thresholds
    ]


def percent_of(budget: Budget | None, threshold_cents: int) -> int:
    """The whole percentage of the limit an alert amount is, or a 400 that says what fits."""
    if budget is None or budget.limit_micro_usd == 0:
        raise ConflictError(
            "Set a spend limit first: keyplane keeps spend alerts as percentages of it.",
            param="threshold_amount",
        )
    amount = threshold_cents * MICRO_PER_CENT * 100
    if amount % budget.limit_micro_usd or not 1 <= amount // budget.limit_micro_usd <= MAX_PERCENT:
        step = budget.limit_micro_usd / 100 / MICRO_PER_CENT
        raise BadRequestError(
            "keyplane keeps spend alerts as whole percentages (1 to 1000) of the spend limit; "
            f"choose a multiple of {step:g} cents.",
            param="threshold_amount",
            code="unsupported_parameter",
        )
    return amount // budget.limit_micro_usd


def _percent_from_id(alert_id: str, budget: Budget | None) -> int:
    if alert_id.startswith(ALERT_PREFIX) and alert_id[len(ALERT_PREFIX) :].isdigit():
        percent = int(alert_id[len(ALERT_PREFIX) :])
        if budget is not None and percent in budget.alert_thresholds:
            return percent
    raise NotFoundError(f"No spend alert with id '{alert_id}'.", param="alert_id")


class SpendService:
    """Budgets and alerts of a project (``project_id``) or the organisation (None)."""

    def __init__(self, database: Database, *, clock: Clock = system_clock) -> None:
        self.db = database
        self.clock = clock

    async def budget(self, *, organization_id: str, project_id: str | None) -> Budget | None:
        async with self.db.session() as session:
            return (await _owner(session, organization_id, project_id)).budget

    async def set_limit(
        self,
        *,
        organization_id: str,
        project_id: str | None,
        threshold_cents: int | None,
        actor: Actor,
    ) -> Budget | None:
        """Set the monthly limit, keeping the alerts; None removes the limit and its alerts."""
        async with self.db.session() as session, session.begin():
            owner = await _owner(session, organization_id, project_id)
            current = owner.budget
            wanted = None
            if threshold_cents is not None:
                thresholds = current.alert_thresholds if current else ()
                wanted = Budget(threshold_cents * MICRO_PER_CENT, Period.MONTH, thresholds)
            self._change(session, owner, organization_id, project_id, wanted, actor)
        return wanted

    async def add_alert(
        self,
        *,
        organization_id: str,
        project_id: str | None,
        threshold_cents: int,
        actor: Actor,
        replacing: str | None = None,
    ) -> SpendAlert:
        async with self.db.session() as session, session.begin():
            owner = await _owner(session, organization_id, project_id)
            budget = owner.budget
            percent = percent_of(budget, threshold_cents)
            assert budget is not None
            kept = set(budget.alert_thresholds)
            if replacing is not None:
                kept.discard(_percent_from_id(replacing, budget))
            wanted = replace(budget, alert_thresholds=tuple(sorted(kept | {percent})))
            self._change(session, owner, organization_id, project_id, wanted, actor)
        return next(a for a in alerts_of(wanted) if a.percent == percent)

    async def alert(
        self, *, organization_id: str, project_id: str | None, alert_id: str
    ) -> SpendAlert:
        budget = await self.budget(organization_id=organization_id, project_id=project_id)
        percent = _percent_from_id(alert_id, budget)
        return next(a for a in alerts_of(budget) if a.percent == percent)

    async def delete_alert(
        self, *, organization_id: str, project_id: str | None, alert_id: str, actor: Actor
    ) -> None:
        async with self.db.session() as session, session.begin():
            owner = await _owner(session, organization_id, project_id)
            budget = owner.budget
            percent = _percent_from_id(alert_id, budget)
            assert budget is not None
            kept = tuple(t for t in budget.alert_thresholds if t != percent)
            self._change(
                session,
                owner,
                organization_id,
                project_id,
                replace(budget, alert_thresholds=kept),
                actor,
            )

    @staticmethod
    def _change(
        session: AsyncSession,
        owner: Project | Organization,
        organization_id: str,
        project_id: str | None,
        wanted: Budget | None,
        actor: Actor,
    ) -> None:
        if owner.budget == wanted:
            return
        owner.budget = wanted
        record(
            session,
            organization_id=organization_id,
            type="project.updated" if project_id else "organization.updated",
            actor=actor,
            target_type="project" if project_id else "organization",
            target_id=owner.id,
            data={
                "project_id": project_id,
                "changes": {"budget": None if wanted is None else wanted.to_json()},
            },
        )


async def _owner(
    session: AsyncSession, organization_id: str, project_id: str | None
) -> Project | Organization:
    if project_id is not None:
        return await get_project(session, organization_id=organization_id, project_id=project_id)
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise NotFoundError("No such organisation.")
    return organization
