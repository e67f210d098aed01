"""What a backend keeps per lease: nothing for a zero reservation (a verification's)."""

from __future__ import annotations

from keyplane.limits.backend import Demand, LimitBackend
from keyplane.limits.memory import MemoryBackend
from keyplane.limits.policy import Budget, Period
from keyplane.limits.redis import RedisBackend

T0 = 1_800_000_000.0
WINDOW = "month:2027-01"


async def zero() -> int:
    return 0


def demand(cost: int) -> Demand:
    return Demand(
        scope="key:z",
        budget=Budget(10**9, Period.MONTH),
        window=WINDOW,
        window_end=T0 + 3600,
        cost=cost,
    )


async def held_leases(backend: LimitBackend) -> int:
    """Leases the backend stores for the budget (white-box: the growth is the bug)."""
    if isinstance(backend, MemoryBackend):
        return len(backend._budgets[("key:z", WINDOW)].reserved)
    assert isinstance(backend, RedisBackend)
    return int(await backend.redis.hlen(f"{backend.prefix}:bres:key:z:{WINDOW}"))


async def test_if_cost_is_zero_then_unreleased_leases_hold_nothing(backend: LimitBackend) -> None:
    await backend.seed_budget("key:z", WINDOW, zero, ttl=None)
    for number in range(200):
        await backend.acquire([demand(0)], lease=f"verify-{number}", now=T0)
    assert await held_leases(backend) == 0
    await backend.acquire([demand(5)], lease="call", now=T0)
    assert await held_leases(backend) == 1
    assert (await backend.status([demand(0)], now=T0))[0].budget_reserved == 5
