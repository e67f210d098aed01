"""Limits as the gateway's admission: reserve before a call, settle after it."""

from __future__ import annotations

import itertools
import logging
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from keyplane.clock import Clock
from keyplane.errors import BudgetExceededError, RateLimitedError, UnavailableError
from keyplane.limits import estimate
from keyplane.limits.admission import Admitted, Call, Outcome
from keyplane.limits.alerts import BudgetAlerts, crossed
from keyplane.limits.backend import (
    BudgetUnseeded,
    Demand,
    LimitBackend,
    LimitExceeded,
    LimitsUnavailable,
    ScopeStatus,
    Seed,
)
from keyplane.limits.explain import BudgetState, Reservation, budget_refusal
from keyplane.limits.headers import duration, ratelimit_headers
from keyplane.limits.organization import OrganizationBudgets
from keyplane.limits.policy import (
    Budget,
    ModelLimits,
    Period,
    RateLimits,
    Window,
    limits_of_model,
    window_of,
)
from keyplane.store.database import STORE_UNREACHABLE, Database
from keyplane.store.models import ApiKey, Project
from keyplane.usage.meter import Meter
from keyplane.usage.prices import PriceTable

logger = logging.getLogger(__name__)

_NOTHING = Admitted()


@dataclass(slots=True)  # made on every limited call: plain, not frozen (see Demand)
class Ticket:
    lease: str
    demands: tuple[Demand, ...]
    admitted_at: float


class LimitService:
    """Rate limits, parallel limits and budgets of keys and projects."""

    def __init__(
        self,
        backend: LimitBackend,
        *,
        database: Database,
        meter: Meter,
        prices: PriceTable,
        alerts: BudgetAlerts,
        clock: Clock,
        fail_open: bool = False,
        default_max_output: int = estimate.DEFAULT_MAX_OUTPUT,
    ) -> None:
        self.backend = backend
        self.db = database
        self.meter = meter  # budgets are seeded from what it counted, written or not
        self.prices = prices
        self.alerts = alerts
        self.clock = clock
        self.fail_open = fail_open
        self.default_max_output = default_max_output
        self.organization_budgets = OrganizationBudgets(database)
        self._lease_prefix = secrets.token_hex(6)  # leases are unique across instances
        self._leases = itertools.count()

    def _lease(self) -> str:
        return f"{self._lease_prefix}{next(self._leases):x}"

    async def admit(self, call: Call) -> Admitted:
        organization_budget = await self.organization_budgets.of(call.key.organization_id)
        if organization_budget is None and not _limited(call.key, call.project, call.model):
            return _NOTHING  # the common case costs a dictionary lookup
        input_tokens = estimate.prompt_tokens(call.body)
        output_field = estimate.output_limit_field(call.body)
        output_tokens = estimate.output_tokens_by(
            call.body, call.endpoint, self.default_max_output, output_field
        )
        cost = estimate.worst_case_cost(
            self.prices, call.model, input_tokens=input_tokens, output_tokens=output_tokens
        )
        now = self.clock()
        demands = demands_for(
            call.key,
            call.project,
            tokens=input_tokens + output_tokens,
            cost=cost,
            now=now,
            model=call.model,
        )
        if organization_budget is not None:
            demands.append(
                _budget_demand(
                    f"org:{call.key.organization_id}", organization_budget, cost=cost, now=now
                )
            )
        reservation = Reservation(
            model=call.model,
            endpoint=call.endpoint,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=cost,
            output_field=output_field,
        )
        lease = self._lease()
        statuses = await self.acquire(demands, lease=lease, now=now, reservation=reservation)
        if statuses is None:
            return _NOTHING
        ticket = Ticket(lease=lease, demands=tuple(demands), admitted_at=now.timestamp())
        return Admitted(headers=ratelimit_headers(statuses), ticket=ticket)

    async def settle(self, call: Call, admitted: Admitted, outcome: Outcome) -> None:
        ticket = admitted.ticket
        if not isinstance(ticket, Ticket):
            return
        tokens = outcome.tokens.input + outcome.tokens.output if outcome.reached_upstream else 0
        cost = outcome.cost_micro_usd if outcome.reached_upstream else 0
        try:
            changes = await self.backend.release(
                ticket.demands,
                lease=ticket.lease,
                admitted_at=ticket.admitted_at,
                tokens=tokens,
                cost=cost,
                now=self.clock().timestamp(),
            )
        except LimitsUnavailable:
            # The lease expires on its own; spend is still metered in the store.
            logger.warning("could not settle limits of key %s: backend unreachable", call.key.id)
            return
        if changes and any(crossed(change) for change in changes):
            await self.alerts.notify(call.key.organization_id, changes)

    async def acquire(
        self,
        demands: Sequence[Demand],
        *,
        lease: str,
        now: datetime,
        reservation: Reservation | None = None,
    ) -> list[ScopeStatus] | None:
        """Reserve ``demands``; None when the backend is down and rate limits fail open.

        ``reservation`` says what a gateway call reserves, for the words of a budget refusal.
        """
        for _ in range(3):
            try:
                return await self.backend.acquire(demands, lease=lease, now=now.timestamp())
            except BudgetUnseeded as missing:
                await self._seed(missing, demands, now)
            except LimitExceeded as exceeded:
                current = await self._status_now(demands, now)
                raise refusal(exceeded, demands, current, reservation) from None
            except LimitsUnavailable:
                if self.fail_open and not any(d.budget for d in demands):
                    logger.warning("limits backend unreachable; rate limits fail open")
                    return None
                raise _unavailable() from None
        raise UnavailableError("Could not reserve budget; try again.", code="limits_unavailable")

    async def consume(
        self, key: ApiKey, project: Project | None, *, requests: int
    ) -> list[ScopeStatus]:
        """Take ``requests`` from the request rate limits, for ``/v1/keys/verify`` with a cost.

        Budgets are checked (an exhausted budget refuses) but not spent: a verification has
        no price. Raises the same 429 errors as the gateway.
        """
        now = self.clock()
        demands = [
            replace(d, rate=_requests_only(d.rate), requests=requests, tokens=0, cost=0)
            for d in demands_for(key, project, tokens=0, cost=0, now=now)
        ]
        demands = [d for d in demands if d.rate is not None or d.budget is not None]
        if not demands:
            return []
        return await self.acquire(demands, lease=self._lease(), now=now) or []

    async def _status_now(
        self, demands: Sequence[Demand], now: datetime
    ) -> list[ScopeStatus] | None:
        try:
            return await self.backend.status(demands, now=now.timestamp())
        except (LimitsUnavailable, BudgetUnseeded):
            return None

    async def start(self) -> None:
        await self.backend.start()

    async def close(self) -> None:
        await self.backend.close()

    async def status(self, key: ApiKey, project: Project | None) -> list[ScopeStatus]:
        """What is left for a key and its project, taking nothing (for ``/v1/keys/verify``)."""
        now = self.clock()
        demands = demands_for(key, project, tokens=0, cost=0, now=now)
        if not demands:
            return []
        for _ in range(3):
            try:
                return await self.backend.status(demands, now=now.timestamp())
            except BudgetUnseeded as missing:
                await self._seed(missing, demands, now)
            except LimitsUnavailable:
                # Without the counters nobody can say what is left: a 503, not a traceback.
                raise _unavailable() from None
        return []

    async def _seed(
        self, missing: BudgetUnseeded, demands: Sequence[Demand], now: datetime
    ) -> None:
        demand = next(d for d in demands if d.scope == missing.scope)
        if demand.day is not None and missing.window == demand.day:
            return await self._seed_day(demand, now)
        assert demand.budget is not None
        window = window_of(demand.budget.period, now)
        scope_type, _, scope_id = demand.scope.partition(":")
        field = {"key": "api_key_id", "org": "organization_id"}.get(scope_type, "project_id")
        owner = {field: scope_id}
        return await self._seed_from(
            demand.scope,
            missing.window,
            window,
            now,
            lambda: self.meter.spent(since=window.start, **owner),
        )

    async def _seed_day(self, demand: Demand, now: datetime) -> None:
        """Start a model's requests-per-day count from the calls metered today (the same
        fence as a budget seed, so calls other instances still hold are counted)."""
        assert demand.day is not None
        day = window_of(Period.DAY, now)
        project_id, _, model = demand.scope.removeprefix("model:").partition(":")
        return await self._seed_from(
            demand.scope,
            demand.day,
            day,
            now,
            lambda: self.meter.requests(since=day.start, project_id=project_id, model=model),
        )

    async def _seed_from(
        self, scope: str, window_id: str, window: Window, now: datetime, count: Seed
    ) -> None:
        """Seed ``scope``'s count for ``window`` with what the meter counted; a count nobody
        can read, or a backend that cannot take it, refuses with 503 (fail closed)."""

        async def counted() -> int:
            try:
                return await count()
            except STORE_UNREACHABLE as exc:
                raise LimitsUnavailable(str(exc)) from exc

        ttl = None if window.end is None else (window.end - now).total_seconds()
        try:
            await self.backend.seed_budget(scope, window_id, counted, ttl=ttl)
        except LimitsUnavailable:
            raise _unavailable() from None


def demands_for(
    key: ApiKey,
    project: Project | None,
    *,
    tokens: int,
    cost: int,
    now: datetime,
    model: str | None = None,
) -> list[Demand]:
    """What a call asks of each scope: its key, its project, and the project's limits on
    ``model`` (scope ``model:<project id>:<model>``), all taken in one atomic acquire."""
    demands = []
    scopes: list[tuple[str, RateLimits | None, Budget | None]] = [
        (f"key:{key.id}", key.rate_limits, key.budget)
    ]
    per_model = None
    if project is not None:
        scopes.append((f"project:{project.id}", project.rate_limits, project.budget))
        per_model = limits_of_model(project.model_rate_limits, model) if model else None
    for scope, rate, budget in scopes:
        if rate is None and budget is None:
            continue
        window = window_of(budget.period, now) if budget is not None else None
        demands.append(
            Demand(
                scope=scope,
                rate=rate,
                budget=budget,
                window=window.id if window else None,
                window_end=window.end_timestamp if window else None,
                tokens=tokens,
                cost=cost,
            )
        )
    if per_model is not None and project is not None:
        demands.append(_model_demand(f"model:{project.id}:{model}", per_model, tokens, now))
    return demands


def _model_demand(scope: str, limits: ModelLimits, tokens: int, now: datetime) -> Demand:
    rate = limits.as_rate_limits()
    day = window_of(Period.DAY, now) if limits.max_requests_per_1_day is not None else None
    return Demand(
        scope=scope,
        rate=None if rate == RateLimits() else rate,
        tokens=tokens,
        requests_per_day=limits.max_requests_per_1_day,
        day=day.id if day else None,
        day_end=day.end_timestamp if day else None,
    )


def _budget_demand(scope: str, budget: Budget, *, cost: int, now: datetime) -> Demand:
    window = window_of(budget.period, now)
    return Demand(
        scope=scope,
        budget=budget,
        window=window.id,
        window_end=window.end_timestamp,
        cost=cost,
    )


def refusal(
    exceeded: LimitExceeded,
    demands: Sequence[Demand],
    current: Sequence[ScopeStatus] | None = None,
    reservation: Reservation | None = None,
) -> RateLimitedError:
    """A 429 in OpenAI's words: which limit, why, and when it resets."""
    owner = _owner_of(exceeded.scope)
    wait = duration(exceeded.retry_after)
    retry_after = max(math.ceil(exceeded.retry_after), 1)
    shown = {name.decode(): value.decode() for name, value in ratelimit_headers(current or [])}
    headers = {**shown, "retry-after": str(retry_after)}
    if exceeded.kind == "budget":
        demand = next(d for d in demands if d.scope == exceeded.scope)
        assert demand.budget is not None
        status = next((s for s in current or [] if s.scope == exceeded.scope), None)
        state = BudgetState(
            owner=owner,
            period=demand.budget.period.value,
            limit=exceeded.limit,
            window_end=demand.window_end,
            spent=None if status is None else status.budget_spent,
            reserved=0 if status is None else status.budget_reserved,
        )
        message = budget_refusal(state, reservation)
        return BudgetExceededError(message, retry_after=retry_after, headers=headers)
    what = {
        "requests": "requests per minute",
        "tokens": "tokens per minute",
        "parallel": "parallel requests",
        "requests_per_day": "requests per day",
    }[exceeded.kind]
    message = (
        f"Rate limit reached for {what} on {owner}: limit {exceeded.limit}. "
        f"Please try again in {wait}."
    )
    if exceeded.kind == "requests_per_day":
        message += " The day resets at 00:00 UTC."
    return RateLimitedError(message, retry_after=retry_after, headers=headers)


def _owner_of(scope: str) -> str:
    """``key key_1``, ``project proj_1``, or ``model gpt-4o in project proj_1``."""
    scope_type, _, scope_id = scope.partition(":")
    if scope_type == "model":
        project_id, _, model = scope_id.partition(":")
        return f"model {model} in project {project_id}"
    if scope_type == "org":
        return f"organization {scope_id}"
    return f"{'key' if scope_type == 'key' else 'project'} {scope_id}"


def _unavailable() -> UnavailableError:
    return UnavailableError(
        "The limits store (Redis) is unreachable, so limited and budgeted keys are "
        "refused for now; try again shortly.",
        code="limits_unavailable",
    )


def _requests_only(rate: RateLimits | None) -> RateLimits | None:
    if rate is None or rate.requests_per_minute is None:
        return None
    return RateLimits(requests_per_minute=rate.requests_per_minute)


def _limited(key: ApiKey, project: Project | None, model: str | None = None) -> bool:
    if key.rate_limits is not None or key.budget is not None:
        return True
    if project is None:
        return False
    if project.rate_limits is not None or project.budget is not None:
        return True
    return bool(model and project.model_rate_limits and model in project.model_rate_limits)
