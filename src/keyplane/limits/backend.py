"""What a limits backend does, and the values that cross its boundary."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from keyplane.limits.policy import Budget, RateLimits

# Rate windows are counted in one-second slots; a call is admitted when the slots of the
# trailing 60 seconds (61 slots, so partial seconds count) leave room for it. That bounds
# every 60-second span by the limit, across instances, with a fixed amount of state.
SLOT_SECONDS = 1
WINDOW_SLOTS = 61
# A lease (parallel slot or budget reservation) of a call that never settled — its instance
# died — is reclaimed after this long.
LEASE_SECONDS = 900


# Values made on every limited call are plain slotted dataclasses, not frozen ones: a frozen
# dataclass's __init__ sets each field through object.__setattr__, and makes a Demand in
# 2.8 µs against 0.63 µs (timeit, 13 fields). Nothing changes them once they are made.
@dataclass(slots=True)
class Demand:
    """What one call asks of one scope (``key:<id>`` or ``project:<id>``)."""

    scope: str
    rate: RateLimits | None = None
    budget: Budget | None = None
    window: str | None = None
    window_end: float | None = None
    tokens: int = 0
    cost: int = 0
    requests: int = 1
    # A project's per-model ``max_requests_per_1_day``: requests admitted in the UTC day
    # ``day`` (its id, e.g. ``day:2026-12-01``), which ends at ``day_end``.
    requests_per_day: int | None = None
    day: str | None = None
    day_end: float | None = None


@dataclass(slots=True)  # made on every limited call: plain, not frozen (see Demand)
class ScopeStatus:
    """What is left in one scope after an admission; drives ``x-ratelimit-*`` headers."""

    scope: str
    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset: float = 0.0
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset: float = 0.0
    budget_limit: int | None = None
    budget_spent: int = 0
    budget_reserved: int = 0


def scope_status(scope: str, flat: Sequence[Any]) -> ScopeStatus:
    """A status from the 9 integers the Redis scripts answer (-1: no such limit)."""
    v = [int(x) for x in flat]
    return ScopeStatus(
        scope=scope,
        requests_limit=v[0] if v[0] >= 0 else None,
        requests_remaining=v[1] if v[0] >= 0 else None,
        requests_reset=v[2] / 1000,
        tokens_limit=v[3] if v[3] >= 0 else None,
        tokens_remaining=v[4] if v[3] >= 0 else None,
        tokens_reset=v[5] / 1000,
        budget_limit=v[6] if v[6] >= 0 else None,
        budget_spent=v[7],
        budget_reserved=v[8],
    )


@dataclass(slots=True)  # made on every limited call: plain, not frozen (see Demand)
class BudgetChange:
    """A budget's spend before and after a settlement, to detect crossed alert thresholds."""

    scope: str
    window: str
    budget: Budget
    spent_before: int
    spent_after: int


def thresholds_crossed(budget: Budget, before: int, after: int) -> list[int]:
    """Alert thresholds (percent) of ``budget`` that spend going from ``before`` to
    ``after`` crossed: below before, at or above after."""
    limit = budget.limit_micro_usd
    if limit <= 0:
        return []
    return [
        threshold
        for threshold in budget.alert_thresholds
        if before * 100 < threshold * limit <= after * 100
    ]


class LimitExceeded(Exception):  # noqa: N818 - a refusal, raised and caught within limits/
    """A demand the backend refused; ``kind`` is requests, tokens, parallel, budget or
    requests_per_day."""

    def __init__(self, *, scope: str, kind: str, limit: int, retry_after: float) -> None:
        super().__init__(f"{kind} limit of {scope} reached")
        self.scope = scope
        self.kind = kind
        self.limit = limit
        self.retry_after = retry_after


class BudgetUnseeded(Exception):  # noqa: N818 - a signal to the caller, not an error
    """The backend holds no spend for this budget window yet: seed it from the store, retry."""

    def __init__(self, scope: str, window: str) -> None:
        super().__init__(f"budget window {window} of {scope} not seeded")
        self.scope = scope
        self.window = window


class LimitsUnavailable(Exception):  # noqa: N818 - the backend's own failure, not a refusal
    """The backend could not be reached."""


Seed = Callable[[], Awaitable[int]]


class LimitBackend(Protocol):
    async def acquire(
        self, demands: Sequence[Demand], *, lease: str, now: float
    ) -> list[ScopeStatus]:
        """Admit every demand or none; raise ``LimitExceeded`` naming the first that fails."""
        ...

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
        """Settle a call: free its parallel slot, true up tokens and spend; the spend of
        its budgets with alert thresholds, before and after (those that crossed none may be
        left out: they alert nobody)."""
        ...

    async def status(self, demands: Sequence[Demand], *, now: float) -> list[ScopeStatus]:
        """What is left, without taking anything."""
        ...

    async def seed_budget(self, scope: str, window: str, seed: Seed, *, ttl: float | None) -> None:
        """Start a budget window's spend from the store, once, if the backend has none yet."""
        ...

    async def start(self) -> None:
        """Connect what runs in the background, if anything."""
        ...

    async def close(self) -> None: ...
