"""Rate limits, parallel limits and budgets behave the same on both backends."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from pydantic import ValidationError

from keyplane.config import Settings
from keyplane.limits.backend import BudgetUnseeded, Demand, LimitBackend, LimitExceeded
from keyplane.limits.policy import Budget, Period, RateLimits
from keyplane.limits.redis import RedisBackend
from limits.conftest import count_scripts
from support.redis_server import redis_url

T0 = 1_800_000_000.0


async def zero() -> int:
    return 0


def requests_demand(rpm: int, scope: str = "key:a") -> Demand:
    return Demand(scope=scope, rate=RateLimits(requests_per_minute=rpm))


def budget_demand(limit: int, cost: int, scope: str = "key:a") -> Demand:
    return Demand(
        scope=scope,
        budget=Budget(limit, Period.MONTH),
        window="month:2027-01",
        window_end=T0 + 3600,
        cost=cost,
    )


async def test_requests_per_minute_admits_the_limit_then_refuses_until_the_window_moves(
    backend: LimitBackend,
) -> None:
    demand = requests_demand(3)
    for i in range(3):
        status = await backend.acquire([demand], lease=f"l{i}", now=T0 + i * 0.1)
    assert status[0].requests_remaining == 0
    with pytest.raises(LimitExceeded) as refused:
        await backend.acquire([demand], lease="l4", now=T0 + 1)
    assert refused.value.kind == "requests"
    assert refused.value.limit == 3
    assert 59 < refused.value.retry_after <= 61
    await backend.acquire([demand], lease="l5", now=T0 + 1 + refused.value.retry_after + 0.01)


async def test_no_sixty_second_span_exceeds_the_limit(backend: LimitBackend) -> None:
    demand = requests_demand(5)
    admitted: list[float] = []
    moment = T0
    while moment < T0 + 300:
        try:
            await backend.acquire([demand], lease=str(moment), now=moment)
            admitted.append(moment)
        except LimitExceeded:
            pass
        moment += 0.7
    for start in admitted:
        assert sum(1 for t in admitted if start <= t < start + 60) <= 5
    assert len(admitted) >= 20  # and it does not starve: ~5 per 61 s over 300 s


async def test_tokens_are_reserved_then_settled_to_real_usage(backend: LimitBackend) -> None:
    demand = Demand(scope="key:a", rate=RateLimits(tokens_per_minute=1000), tokens=600)
    await backend.acquire([demand], lease="a", now=T0)
    with pytest.raises(LimitExceeded) as refused:
        await backend.acquire([demand], lease="b", now=T0 + 1)
    assert refused.value.kind == "tokens"
    await backend.release([demand], lease="a", admitted_at=T0, tokens=100, cost=0, now=T0 + 2)
    status = await backend.acquire([demand], lease="c", now=T0 + 3)
    assert status[0].tokens_remaining == 1000 - 100 - 600


async def test_parallel_requests_are_held_until_released(backend: LimitBackend) -> None:
    demand = Demand(scope="key:a", rate=RateLimits(max_parallel_requests=2))
    await backend.acquire([demand], lease="a", now=T0)
    await backend.acquire([demand], lease="b", now=T0)
    with pytest.raises(LimitExceeded) as refused:
        await backend.acquire([demand], lease="c", now=T0)
    assert refused.value.kind == "parallel"
    await backend.release([demand], lease="a", admitted_at=T0, tokens=0, cost=0, now=T0 + 1)
    await backend.acquire([demand], lease="c", now=T0 + 1)


async def test_a_lease_of_a_call_that_never_settled_is_reclaimed(backend: LimitBackend) -> None:
    demand = Demand(scope="key:a", rate=RateLimits(max_parallel_requests=1))
    await backend.acquire([demand], lease="lost", now=T0)
    with pytest.raises(LimitExceeded):
        await backend.acquire([demand], lease="next", now=T0 + 10)
    await backend.acquire([demand], lease="next", now=T0 + 901)


async def test_budget_must_be_seeded_from_the_store_first(backend: LimitBackend) -> None:
    demand = budget_demand(limit=100, cost=10)
    with pytest.raises(BudgetUnseeded):
        await backend.acquire([demand], lease="a", now=T0)

    async def seed() -> int:
        return 95

    await backend.seed_budget("key:a", "month:2027-01", seed, ttl=3600)
    await backend.seed_budget("key:a", "month:2027-01", zero, ttl=3600)  # already seeded
    with pytest.raises(LimitExceeded) as refused:
        await backend.acquire([demand], lease="a", now=T0)
    assert refused.value.kind == "budget"
    assert refused.value.retry_after == pytest.approx(3600, abs=1)


async def test_budget_reserves_worst_case_and_settles_to_real_cost(backend: LimitBackend) -> None:
    await backend.seed_budget("key:a", "month:2027-01", zero, ttl=3600)
    demand = budget_demand(limit=100, cost=30)
    for lease in "abc":
        await backend.acquire([demand], lease=lease, now=T0)
    with pytest.raises(LimitExceeded):
        await backend.acquire([demand], lease="d", now=T0)
    changes = await backend.release(
        [demand], lease="a", admitted_at=T0, tokens=0, cost=10, now=T0 + 1
    )
    assert [(c.spent_before, c.spent_after) for c in changes] == [(0, 10)]
    status = await backend.acquire([demand], lease="d", now=T0 + 2)
    assert (status[0].budget_spent, status[0].budget_reserved) == (10, 90)
    for lease in "bcd":
        await backend.release([demand], lease=lease, admitted_at=T0, tokens=0, cost=30, now=T0 + 3)
    free = budget_demand(limit=100, cost=0)
    with pytest.raises(LimitExceeded):
        await backend.acquire([free], lease="e", now=T0 + 4)  # spent 100: nothing more


async def test_either_every_scope_admits_or_none_changes(backend: LimitBackend) -> None:
    key = requests_demand(10, scope="key:a")
    project = requests_demand(1, scope="project:p")
    await backend.acquire([key, project], lease="a", now=T0)
    with pytest.raises(LimitExceeded) as refused:
        await backend.acquire([key, project], lease="b", now=T0)
    assert refused.value.scope == "project:p"
    status = await backend.status([key], now=T0)
    assert status[0].requests_remaining == 9


async def test_concurrent_calls_never_overshoot_a_budget(backend: LimitBackend) -> None:
    await backend.seed_budget("key:a", "month:2027-01", zero, ttl=3600)
    demand = budget_demand(limit=50 * 7, cost=7)

    async def one(index: int) -> bool:
        try:
            await backend.acquire([demand], lease=f"l{index}", now=T0)
        except LimitExceeded:
            return False
        return True

    results = await asyncio.gather(*(one(i) for i in range(300)))
    assert sum(results) == 50


async def test_a_call_that_reserved_no_tokens_settles_under_a_token_limit(
    backend: LimitBackend,
) -> None:
    demand = Demand(scope="key:t0", rate=RateLimits(tokens_per_minute=100), tokens=0)
    await backend.acquire([demand], lease="l0", now=T0)
    await backend.release([demand], lease="l0", admitted_at=T0, tokens=30, cost=0, now=T0 + 1)
    status = await backend.status([demand], now=T0 + 2)
    assert status[0].tokens_remaining == 70


@pytest.mark.redis
async def test_settling_only_requests_per_minute_sends_redis_nothing() -> None:
    """A call counts against a requests-per-minute limit when it is admitted; its settle has
    no slot to free and nothing to true up, so it costs no second round trip."""
    backend = RedisBackend.from_url(redis_url(), prefix="kp:test:" + secrets.token_hex(4))
    sent = count_scripts(backend)
    try:
        rpm, tpm = requests_demand(10), Demand(scope="key:b", rate=RateLimits(tokens_per_minute=99))
        for demands in ([rpm], [rpm, tpm]):
            await backend.acquire(demands, lease="a", now=T0)
            sent.clear()
            await backend.release(demands, lease="a", admitted_at=T0, tokens=1, cost=0, now=T0)
            assert len(sent) == (0 if demands == [rpm] else 1)
    finally:
        await backend.close()


@pytest.mark.redis
async def test_deployments_with_their_own_prefix_share_a_redis_but_no_limit() -> None:
    demand = requests_demand(1)
    first, second = (
        RedisBackend.from_url(redis_url(), prefix=f"kp:test:{secrets.token_hex(4)}:{name}")
        for name in ("blue", "green")
    )
    try:
        await first.acquire([demand], lease="a", now=T0)
        await second.acquire([demand], lease="b", now=T0)  # its own count: not refused
        with pytest.raises(LimitExceeded):
            await first.acquire([demand], lease="c", now=T0)
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("prefix", ["", "two words", "kp:lim\n", "x" * 65, "préfixe"])
def test_a_redis_prefix_redis_cannot_take_safely_is_refused(prefix: str) -> None:
    with pytest.raises(ValidationError, match="redis_prefix"):
        Settings(_env_file=None, redis_prefix=prefix)
