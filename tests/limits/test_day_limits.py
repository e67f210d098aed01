"""A per-model ``max_requests_per_1_day``: a request counter per UTC day, on both backends.

Each day's count starts from the store (the calls metered that day), seeded like a budget,
so a restart or a Redis that lost its data does not hand out a second day's worth.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from keyplane.limits.backend import BudgetUnseeded, Demand, LimitBackend, LimitExceeded
from keyplane.limits.policy import RateLimits
from keyplane.limits.service import refusal

MIDNIGHT = datetime(2027, 1, 2, tzinfo=UTC).timestamp()
T0 = MIDNIGHT - 3600  # 23:00 UTC on 2027-01-01


def day_demand(
    limit: int, *, day: str = "day:2027-01-01", end: float = MIDNIGHT, scope: str = "model:p:m"
) -> Demand:
    return Demand(scope=scope, requests_per_day=limit, day=day, day_end=end)


async def admitted(backend: LimitBackend, demands: list[Demand], lease: str, now: float) -> bool:
    """Admit, seeding an unseeded day from an empty store first (as the service does)."""
    for _ in range(2):
        try:
            await backend.acquire(demands, lease=lease, now=now)
        except LimitExceeded:
            return False
        except BudgetUnseeded as missing:
            await backend.seed_budget(missing.scope, missing.window, none_yet, ttl=3600)
        else:
            return True
    raise AssertionError("seeded, yet still unseeded")


async def none_yet() -> int:
    return 0


async def test_a_day_is_counted_on_from_what_the_store_holds(backend: LimitBackend) -> None:
    demand = day_demand(20)
    with pytest.raises(BudgetUnseeded) as missing:
        await backend.acquire([demand], lease="a", now=T0)
    assert (missing.value.scope, missing.value.window) == ("model:p:m", "day:2027-01-01")

    async def metered() -> int:
        return 18

    await backend.seed_budget("model:p:m", "day:2027-01-01", metered, ttl=3600)
    assert [await admitted(backend, [demand], f"l{i}", T0) for i in range(3)] == [
        True,
        True,
        False,
    ]


async def test_if_100_concurrent_calls_meet_a_day_limit_of_20_then_exactly_20_pass(
    backend: LimitBackend,
) -> None:
    demand = day_demand(20)
    await backend.seed_budget("model:p:m", "day:2027-01-01", none_yet, ttl=3600)
    results = await asyncio.gather(
        *(admitted(backend, [demand], f"l{i}", T0 + i * 0.01) for i in range(100))
    )
    assert sum(results) == 20


async def test_a_day_limit_refusal_names_the_limit_and_waits_until_midnight_utc(
    backend: LimitBackend,
) -> None:
    demand = day_demand(2)
    for i in range(2):
        assert await admitted(backend, [demand], f"l{i}", T0)
    with pytest.raises(LimitExceeded) as refused:
        await backend.acquire([demand], lease="l2", now=T0 + 600)
    assert (refused.value.kind, refused.value.limit) == ("requests_per_day", 2)
    assert refused.value.retry_after == pytest.approx(3000, abs=1)
    error = refusal(refused.value, [demand])
    assert "requests per day on model m in project p: limit 2" in error.message
    assert "00:00 UTC" in error.message
    assert error.headers["retry-after"] == "3000"


async def test_a_new_utc_day_starts_from_zero_and_spans_do_not_carry_over(
    backend: LimitBackend,
) -> None:
    assert await admitted(backend, [day_demand(1)], "a", T0)
    assert not await admitted(backend, [day_demand(1)], "b", MIDNIGHT - 1)
    tomorrow = day_demand(1, day="day:2027-01-02", end=MIDNIGHT + 86400)
    assert await admitted(backend, [tomorrow], "c", MIDNIGHT + 1)
    assert not await admitted(backend, [tomorrow], "d", MIDNIGHT + 2)


async def test_a_day_limit_is_per_model_scope(backend: LimitBackend) -> None:
    assert await admitted(backend, [day_demand(1, scope="model:p:a")], "a", T0)
    assert await admitted(backend, [day_demand(1, scope="model:p:b")], "b", T0)
    assert await admitted(backend, [day_demand(1, scope="model:q:a")], "c", T0)


async def test_a_day_limit_refusal_takes_nothing_from_the_key_and_a_key_refusal_nothing_from_it(
    backend: LimitBackend,
) -> None:
    key = Demand(scope="key:k", rate=RateLimits(requests_per_minute=3))
    assert await admitted(backend, [key, day_demand(1)], "a", T0)
    assert not await admitted(backend, [key, day_demand(1)], "b", T0)  # the day refuses
    assert (await backend.status([key], now=T0))[0].requests_remaining == 2
    tight_key = Demand(scope="key:t", rate=RateLimits(requests_per_minute=1))
    await backend.acquire([tight_key], lease="c", now=T0)
    other_day = day_demand(1, scope="model:p:other")
    assert not await admitted(backend, [tight_key, other_day], "d", T0)  # the key refuses
    assert await admitted(backend, [other_day], "e", T0)  # and the day still has its one


async def test_a_day_limit_beside_a_minute_limit_holds_both(backend: LimitBackend) -> None:
    both = Demand(
        scope="model:p:m",
        rate=RateLimits(requests_per_minute=2),
        requests_per_day=3,
        day="day:2027-01-01",
        day_end=MIDNIGHT,
    )
    assert [await admitted(backend, [both], f"a{i}", T0) for i in range(3)] == [True, True, False]
    later = T0 + 120  # the minute window has room again; the day has one left
    assert [await admitted(backend, [both], f"b{i}", later) for i in range(2)] == [True, False]
    with pytest.raises(LimitExceeded) as refused:
        await backend.acquire([both], lease="c", now=later + 120)
    assert refused.value.kind == "requests_per_day"


async def test_settling_a_call_does_not_give_its_day_request_back(backend: LimitBackend) -> None:
    demand = day_demand(1)
    assert await admitted(backend, [demand], "a", T0)
    await backend.release([demand], lease="a", admitted_at=T0, tokens=0, cost=0, now=T0 + 1)
    assert not await admitted(backend, [demand], "b", T0 + 2)
