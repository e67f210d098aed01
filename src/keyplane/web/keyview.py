"""How a key reads in the dashboard's tables: its state, permissions and creator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from keyplane.keys.permissions import PermissionMode
from keyplane.limits.policy import Period
from keyplane.services.key_facts import KeyFacts, Spend
from keyplane.services.members import MemberService
from keyplane.store.models import ApiKey
from keyplane.web.charts import sparkline
from keyplane.web.keyform import dollars
from keyplane.web.templating import usd

_PERMISSIONS = {
    PermissionMode.ALL: "All",
    PermissionMode.READ_ONLY: "Read only",
    PermissionMode.RESTRICTED: "Restricted",
}


NO_FACTS = KeyFacts(spend=None)


@dataclass(frozen=True)
class KeyRow:
    key: ApiKey
    state: str
    permissions: str
    created_by: str
    facts: KeyFacts = NO_FACTS

    @classmethod
    def of(
        cls,
        key: ApiKey,
        *,
        now: datetime,
        creators: dict[str, str],
        facts: KeyFacts | None = None,
    ) -> KeyRow:
        return cls(
            key=key,
            state=state_of(key, now=now),
            permissions=_PERMISSIONS[key.permissions_mode],
            created_by=creator_label(key.created_by, creators),
            facts=facts or NO_FACTS,
        )

    @property
    def spend(self) -> Spend | None:
        return self.facts.spend

    @property
    def spend_text(self) -> str:
        """``$1.20 of $5.00 this month``; empty for a key without a budget."""
        spend = self.facts.spend
        if spend is None:
            return ""
        period = {Period.DAY: "today", Period.MONTH: "this month", Period.TOTAL: "in total"}
        limit = usd(spend.budget.limit_micro_usd)
        return f"{usd(spend.spent_micro_usd)} of {limit} {period[spend.budget.period]}"

    @property
    def share_percent(self) -> int:
        spend = self.facts.spend
        return 0 if spend is None else round(spend.share * 100)

    @property
    def meter_class(self) -> str:
        """Which tenth of the meter to fill (a class: the page allows no inline styles)."""
        share = min(self.share_percent, 100)
        return f"meter-{-(-share // 10) * 10}"

    @property
    def week_requests(self) -> int:
        return sum(day.requests for day in self.facts.days)

    @property
    def week_cost(self) -> int:
        return sum(day.cost_micro_usd for day in self.facts.days)

    @property
    def sparkline(self) -> Markup:
        return sparkline([day.requests for day in self.facts.days])

    @property
    def limits(self) -> str:
        """``60 req/min · $25/month``: the key's limits and budget in a few words."""
        parts = []
        limits = self.key.rate_limits
        if limits is not None:
            for value, unit in (
                (limits.requests_per_minute, "req/min"),
                (limits.tokens_per_minute, "tokens/min"),
                (limits.max_parallel_requests, "parallel"),
            ):
                if value is not None:
                    parts.append(f"{value:,} {unit}")
        budget = self.key.budget
        if budget is not None:
            per = " in total" if budget.period is Period.TOTAL else f"/{budget.period.value}"
            parts.append(f"${dollars(budget.limit_micro_usd)}{per}")
        return " · ".join(parts)

    @property
    def live(self) -> bool:
        return self.state not in ("revoked", "leaked")


def state_of(key: ApiKey, *, now: datetime) -> str:
    """``active``, ``disabled``, ``expired``, ``revoked`` or ``leaked``."""
    if key.revoked_at is not None:
        return "leaked" if key.revoked_reason == "leaked" else "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active" if key.enabled else "disabled"


def creator_label(actor_id: str | None, creators: dict[str, str]) -> str:
    if actor_id is None:
        return "keyplane"
    if actor_id in creators:
        return creators[actor_id]
    return "Admin key" if actor_id.startswith("key_") else "Former member"


async def creators(members: MemberService, organization_id: str) -> dict[str, str]:
    """Display names of the people who may have created keys, by user id."""
    everyone = await members.all(organization_id=organization_id)
    return {m.user.id: m.user.name or m.user.email for m in everyone}
