"""The in-process backend: one instance, exact, no I/O.

Every method does its checks and updates without awaiting in between, so on one event
loop each call is atomic without locks.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from keyplane.limits.backend import (
    LEASE_SECONDS,
    BudgetChange,
    BudgetUnseeded,
    Demand,
    LimitExceeded,
    ScopeStatus,
    Seed,
)
from keyplane.limits.slots import Slots


@dataclass
class _Budget:
    """Spend, and reservations kept with their running total (read twice per call: a sum
    over every call in flight made admission cost grow with concurrency)."""

    spent: int = 0
    reserved: dict[str, tuple[int, float]] = field(
        default_factory=dict
    )  # lease -> (amount, expiry)
    held: int = 0
    next_expiry: float = math.inf

    def reserve(self, lease: str, amount: int, expiry: float) -> None:
        self.free(lease)
        self.reserved[lease] = (amount, expiry)
        self.held += amount
        self.next_expiry = min(self.next_expiry, expiry)

    def free(self, lease: str) -> None:
        amount, _ = self.reserved.pop(lease, (0, 0.0))
        self.held -= amount

    def reserved_total(self, now: float) -> int:
        if now >= self.next_expiry:  # rare: leases last LEASE_SECONDS
            for lease in [lease for lease, (_, expiry) in self.reserved.items() if expiry <= now]:
                self.free(lease)
            self.next_expiry = min(
                (expiry for _, expiry in self.reserved.values()), default=math.inf
            )
        return self.held


class MemoryBackend:
    def __init__(self) -> None:
        self._requests: dict[str, Slots] = {}
        self._tokens: dict[str, Slots] = {}
        self._parallel: dict[str, dict[str, float]] = {}
        self._budgets: dict[tuple[str, str], _Budget] = {}
        self._seeding: dict[tuple[str, str], asyncio.Future[int]] = {}

    async def acquire(
        self, demands: Sequence[Demand], *, lease: str, now: float
    ) -> list[ScopeStatus]:
        for demand in demands:
            self._check(demand, now)
        for demand in demands:
            self._take(demand, lease, now)
        return [self._status(demand, now) for demand in demands]

    async def release(
        self,
        demands: Sequence[Demand],
        *,
        lease: str,
        admitted_at: float,
        tokens: int,
        cost: int,
        now: float,
    ) -> list[BudgetChange]:
        changes = []
        for demand in demands:
            self._parallel.get(demand.scope, {}).pop(lease, None)
            rate = demand.rate
            if rate is not None and rate.tokens_per_minute is not None:
                slots = self._tokens.setdefault(demand.scope, Slots())
                slots.add(admitted_at, -demand.tokens, now=now)
                slots.add(now, tokens)
            if demand.budget is not None and demand.window is not None:
                budget = self._budgets.get((demand.scope, demand.window))
                if budget is None:
                    # Not seeded (yet): the seed reads the meter, which holds this call. An
                    # empty window made here would pass for a seeded one that spent nothing.
                    continue
                budget.free(lease)
                before = budget.spent
                budget.spent += cost
                changes.append(
                    BudgetChange(demand.scope, demand.window, demand.budget, before, budget.spent)
                )
        return changes

    async def status(self, demands: Sequence[Demand], *, now: float) -> list[ScopeStatus]:
        return [self._status(demand, now) for demand in demands]

    async def seed_budget(self, scope: str, window: str, seed: Seed, *, ttl: float | None) -> None:
        if (scope, window) in self._budgets:
            return
        # Calls that find the window unseeded together share one count of the store.
        seeding = self._seeding.get((scope, window))
        if seeding is None:
            seeding = self._seeding[(scope, window)] = asyncio.ensure_future(seed())
            seeding.add_done_callback(lambda _: self._seeding.pop((scope, window), None))
        spent = await asyncio.shield(seeding)
        # Another call may have seeded (and spent) while we awaited the store: keep its state.
        self._budgets.setdefault((scope, window), _Budget(spent=spent))

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _check_day(self, demand: Demand, now: float) -> None:
        """A per-model requests-per-day limit counts like a budget of requests: its day is
        seeded from the metered usage (after a restart too), then taken at admission."""
        limit = demand.requests_per_day
        if limit is None or demand.day is None:
            return
        day = self._budgets.get((demand.scope, demand.day))
        if day is None:
            raise BudgetUnseeded(demand.scope, demand.day)
        if day.spent + demand.requests > limit:
            retry = (demand.day_end - now) if demand.day_end is not None else 0.0
            raise LimitExceeded(
                scope=demand.scope, kind="requests_per_day", limit=limit, retry_after=max(retry, 0)
            )

    def _check(self, demand: Demand, now: float) -> None:
        self._check_day(demand, now)
        rate = demand.rate
        if rate is not None:
            for kind, counts, amount, limit in (
                ("requests", self._requests, demand.requests, rate.requests_per_minute),
                ("tokens", self._tokens, demand.tokens, rate.tokens_per_minute),
            ):
                if limit is None:
                    continue
                wait = counts.get(demand.scope, Slots()).wait_for_room(now, amount, limit)
                if wait is not None:
                    raise LimitExceeded(
                        scope=demand.scope, kind=kind, limit=limit, retry_after=wait
                    )
            if rate.max_parallel_requests is not None:
                leases = self._live_leases(demand.scope, now)
                if len(leases) >= rate.max_parallel_requests:
                    raise LimitExceeded(
                        scope=demand.scope,
                        kind="parallel",
                        limit=rate.max_parallel_requests,
                        retry_after=1.0,
                    )
        if demand.budget is not None and demand.window is not None:
            budget = self._budgets.get((demand.scope, demand.window))
            if budget is None:
                raise BudgetUnseeded(demand.scope, demand.window)
            committed = budget.spent + budget.reserved_total(now)
            if committed + demand.cost > demand.budget.limit_micro_usd or (
                committed >= demand.budget.limit_micro_usd
            ):
                retry = (demand.window_end - now) if demand.window_end is not None else 0.0
                raise LimitExceeded(
                    scope=demand.scope,
                    kind="budget",
                    limit=demand.budget.limit_micro_usd,
                    retry_after=max(retry, 0.0),
                )

    def _take(self, demand: Demand, lease: str, now: float) -> None:
        if demand.requests_per_day is not None and demand.day is not None:
            self._budgets[(demand.scope, demand.day)].spent += demand.requests
        rate = demand.rate
        if rate is not None:
            if rate.requests_per_minute is not None:
                self._requests.setdefault(demand.scope, Slots()).add(now, demand.requests)
            if rate.tokens_per_minute is not None:
                self._tokens.setdefault(demand.scope, Slots()).add(now, demand.tokens)
            if rate.max_parallel_requests is not None:
                self._parallel.setdefault(demand.scope, {})[lease] = now + LEASE_SECONDS
        # A zero reservation holds nothing; not keeping it matters because verifications
        # (cost 0) are never released and would pile up until their lease expires.
        if demand.budget is not None and demand.window is not None and demand.cost > 0:
            budget = self._budgets[(demand.scope, demand.window)]
            budget.reserve(lease, demand.cost, now + LEASE_SECONDS)

    def _live_leases(self, scope: str, now: float) -> dict[str, float]:
        leases = self._parallel.setdefault(scope, {})
        for lease in [lease for lease, expiry in leases.items() if expiry <= now]:
            del leases[lease]
        return leases

    def _status(self, demand: Demand, now: float) -> ScopeStatus:
        rate = demand.rate
        values: dict[str, object] = {}
        if rate is not None and rate.requests_per_minute is not None:
            slots = self._requests.get(demand.scope, Slots())
            used = slots.total(now)
            values |= {
                "requests_limit": rate.requests_per_minute,
                "requests_remaining": max(rate.requests_per_minute - used, 0),
                "requests_reset": slots.reset_after(now),
            }
        if rate is not None and rate.tokens_per_minute is not None:
            slots = self._tokens.get(demand.scope, Slots())
            used = slots.total(now)
            values |= {
                "tokens_limit": rate.tokens_per_minute,
                "tokens_remaining": max(rate.tokens_per_minute - used, 0),
                "tokens_reset": slots.reset_after(now),
            }
        if demand.budget is not None and demand.window is not None:
            budget = self._budgets.get((demand.scope, demand.window), _Budget())
            values |= {
                "budget_limit": demand.budget.limit_micro_usd,
                "budget_spent": budget.spent,
                "budget_reserved": budget.reserved_total(now),
            }
        return ScopeStatus(scope=demand.scope, **values)  # type: ignore[arg-type]
