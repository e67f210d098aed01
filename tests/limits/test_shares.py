"""Local shares of Redis limits: calls admitted without a round trip, and still exact.

Each instance takes a sixteenth of what is left of a scope's limits at most once a second and
admits calls from it locally; near a limit it takes nothing and every call goes to Redis.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable

import pytest

from keyplane.limits.alerts import crossed
from keyplane.limits.backend import BudgetUnseeded, Demand, LimitExceeded
from keyplane.limits.policy import Budget, Period, RateLimits
from keyplane.limits.redis import RedisBackend
from limits.conftest import count_scripts
from support.redis_server import redis_url

pytestmark = pytest.mark.redis

T0 = 1_800_000_000.0
MONTH = "month:2027-01"


async def zero() -> int:
    return 0


@pytest.fixture
async def instances() -> AsyncIterator[Callable[[], RedisBackend]]:
    """``make()`` gives one more keyplane instance on one Redis prefix."""
    prefix = "kp:test:" + secrets.token_hex(4)
    made: list[RedisBackend] = []

    def make() -> RedisBackend:
        made.append(RedisBackend.from_url(redis_url(), prefix=prefix))
        return made[-1]

    yield make
    redis = made[0].redis
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    for backend in made:
        await backend.close()


def every_limit(*, rpm: int, tpm: int, parallel: int, budget: int, cost: int) -> Demand:
    return Demand(
        scope="key:a",
        rate=RateLimits(
            requests_per_minute=rpm, tokens_per_minute=tpm, max_parallel_requests=parallel
        ),
        budget=Budget(budget, Period.MONTH, (50,)),
        window=MONTH,
        window_end=T0 + 3600,
        tokens=1000,
        cost=cost,
    )


async def usage(backend: RedisBackend, scope: str = "key:a") -> dict[str, int]:
    """What Redis holds for ``scope``: requests and tokens in the window, parallel slots
    taken, the month's spend and reservations."""
    redis, prefix = backend.redis, backend.prefix
    budget = await redis.hgetall(f"{prefix}:bud:{scope}:{MONTH}")
    return {
        "requests": sum(int(v) for v in (await redis.hgetall(f"{prefix}:rq:{scope}")).values()),
        "tokens": sum(int(v) for v in (await redis.hgetall(f"{prefix}:tk:{scope}")).values()),
        "parallel": int(await redis.zcard(f"{prefix}:par:{scope}")),
        "spent": int(budget.get(b"spent", 0)),
        "reserved": int(budget.get(b"reserved", 0)),
    }


async def test_calls_within_a_share_send_redis_nothing_and_are_all_counted_after(
    instances: Callable[[], RedisBackend],
) -> None:
    backend = instances()
    demand = every_limit(rpm=10**6, tpm=10**9, parallel=1000, budget=10**9, cost=500)
    await backend.seed_budget("key:a", MONTH, zero, ttl=None)
    sent = count_scripts(backend)
    for i in range(40):
        now = T0 + i * 0.01
        await backend.acquire([demand], lease=f"l{i}", now=now)
        await backend.release(
            [demand], lease=f"l{i}", admitted_at=now, tokens=100, cost=300, now=now
        )
    # Shares of 8, 16 and 32 calls: each twice what the last one held, until one lasts a second.
    assert len(sent) == 3
    await backend.shares.sweep(T0 + 2)  # the next second: given back and settled
    assert len(sent) == 4
    assert await usage(backend) == {
        "requests": 40,
        "tokens": 40 * 100,
        "parallel": 0,
        "spent": 40 * 300,
        "reserved": 0,
    }


async def test_calls_after_a_seed_take_a_share_in_the_same_second(
    instances: Callable[[], RedisBackend],
) -> None:
    """A new key's first call, or the first of a new month, finds its budget window unseeded:
    the share is refused, the call seeds the window, and the calls after it are shared again
    at once, not sent to Redis one by one for the rest of that second."""
    backend = instances()
    demand = every_limit(rpm=10**6, tpm=10**9, parallel=1000, budget=10**9, cost=500)
    sent = count_scripts(backend)
    with pytest.raises(BudgetUnseeded):
        await backend.acquire([demand], lease="first", now=T0)
    assert len(sent) == 2  # the share, refused: the window is not seeded; then the call itself
    await backend.seed_budget("key:a", MONTH, zero, ttl=None)
    for i in range(8):
        now = T0 + 0.1 + i * 0.01
        await backend.acquire([demand], lease=f"l{i}", now=now)
        await backend.release([demand], lease=f"l{i}", admitted_at=now, tokens=10, cost=30, now=now)
    assert len(sent) == 2 + 1  # one share of 8 calls
    await backend.shares.sweep(T0 + 2)
    assert (await usage(backend))["spent"] == 8 * 30


async def test_what_a_call_sees_left_is_what_redis_would_say(
    instances: Callable[[], RedisBackend],
) -> None:
    backend = instances()
    demand = Demand(scope="key:a", rate=RateLimits(requests_per_minute=1000))
    for i in range(1, 30):
        status = await backend.acquire([demand], lease=f"l{i}", now=T0 + i * 0.01)
        assert status[0].requests_remaining == 1000 - i


async def test_near_a_limit_nothing_is_shared_and_each_call_asks_redis(
    instances: Callable[[], RedisBackend],
) -> None:
    backend = instances()
    demand = Demand(scope="key:a", rate=RateLimits(requests_per_minute=50))
    sent = count_scripts(backend)
    for i in range(50):
        await backend.acquire([demand], lease=f"l{i}", now=T0 + i * 0.001)
    with pytest.raises(LimitExceeded):
        await backend.acquire([demand], lease="over", now=T0 + 0.5)
    assert len(sent) == 1 + 51  # one share asked for (50/16 is too small), then one by one
    assert (await usage(backend))["requests"] == 50


async def test_two_instances_together_never_admit_more_than_the_limit(
    instances: Callable[[], RedisBackend],
) -> None:
    a, b = instances(), instances()
    demand = Demand(scope="key:a", rate=RateLimits(requests_per_minute=400))

    async def call(backend: RedisBackend, i: int) -> bool:
        try:
            await backend.acquire([demand], lease=f"l{i}", now=T0 + 0.5)
        except LimitExceeded:
            return False
        return True

    admitted = await asyncio.gather(*(call(a if i % 2 else b, i) for i in range(600)))
    for backend in (a, b):
        await backend.shares.sweep(T0 + 1.5)
    assert sum(admitted) == 400  # every share given back before a call was refused
    assert (await usage(a))["requests"] == 400


async def test_a_budget_shared_by_two_instances_is_never_overspent(
    instances: Callable[[], RedisBackend],
) -> None:
    a, b = instances(), instances()
    demand = Demand(
        scope="key:a",
        budget=Budget(1000 * 300, Period.MONTH),
        window=MONTH,
        window_end=T0 + 3600,
        cost=300,
    )
    await a.seed_budget("key:a", MONTH, zero, ttl=None)

    async def call(backend: RedisBackend, i: int, now: float) -> int:
        try:
            await backend.acquire([demand], lease=f"l{i}", now=now)
        except LimitExceeded:
            return 0
        await asyncio.sleep(0)
        await backend.release([demand], lease=f"l{i}", admitted_at=now, tokens=0, cost=300, now=now)
        return 300

    spent = 0
    for second in range(4):  # shares are renewed each second, settling what was spent
        now = T0 + second + 0.5
        spent += sum(
            await asyncio.gather(
                *(call(a if i % 2 else b, i, now) for i in range(second * 600, second * 600 + 600))
            )
        )
    for backend in (a, b):
        await backend.shares.sweep(T0 + 10)
    held = await usage(a)
    assert spent == held["spent"] == 1000 * 300
    assert held["reserved"] == 0


async def test_parallel_slots_held_by_two_instances_never_exceed_the_limit(
    instances: Callable[[], RedisBackend],
) -> None:
    a, b = instances(), instances()
    demand = Demand(scope="key:a", rate=RateLimits(max_parallel_requests=200))
    held: list[tuple[RedisBackend, str]] = []
    for i in range(300):  # none released: every admitted call is in flight at once
        backend = a if i % 2 else b
        try:
            await backend.acquire([demand], lease=f"l{i}", now=T0 + 0.5)
        except LimitExceeded:
            continue
        held.append((backend, f"l{i}"))
    assert 200 - 2 * 200 // 16 <= len(held) <= 200
    for backend, lease in held:
        await backend.release([demand], lease=lease, admitted_at=T0, tokens=0, cost=0, now=T0 + 1)
    for backend in (a, b):
        await backend.shares.sweep(T0 + 2)
    assert (await usage(a))["parallel"] == 0


async def test_a_budget_alert_is_seen_by_the_local_settle_that_crosses_it(
    instances: Callable[[], RedisBackend],
) -> None:
    backend = instances()
    demand = every_limit(rpm=10**6, tpm=10**9, parallel=1000, budget=100 * 1000, cost=1000)
    await backend.seed_budget("key:a", MONTH, zero, ttl=None)
    crossings = []
    for i in range(60):
        now = T0 + i * 0.01
        await backend.acquire([demand], lease=f"l{i}", now=now)
        changes = await backend.release(
            [demand], lease=f"l{i}", admitted_at=now, tokens=10, cost=1000, now=now
        )
        crossings += [(i, threshold) for change in changes for threshold in crossed(change)]
    assert crossings == [(49, 50)]


async def test_closing_an_instance_gives_its_shares_back(
    instances: Callable[[], RedisBackend],
) -> None:
    other = instances()
    backend = instances()
    demand = every_limit(rpm=10**6, tpm=10**9, parallel=1000, budget=10**9, cost=500)
    await backend.seed_budget("key:a", MONTH, zero, ttl=None)
    for i in range(5):
        await backend.acquire([demand], lease=f"l{i}", now=T0 + 0.1)
        await backend.release(
            [demand], lease=f"l{i}", admitted_at=T0, tokens=7, cost=11, now=T0 + 0.1
        )
    await backend.close()
    assert await usage(other) == {
        "requests": 5,
        "tokens": 5 * 7,
        "parallel": 0,
        "spent": 5 * 11,
        "reserved": 0,
    }


async def test_a_call_that_meets_a_share_being_given_back_takes_a_new_one(
    instances: Callable[[], RedisBackend],
) -> None:
    backend = instances()
    demand = Demand(scope="key:a", rate=RateLimits(requests_per_minute=10**6))
    await backend.acquire([demand], lease="first", now=T0 + 0.1)
    sent = count_scripts(backend)
    giving_back = asyncio.create_task(backend.shares.sweep(T0 + 1.2))
    await asyncio.sleep(0)  # the sweep's script is on its way
    await backend.acquire([demand], lease="during", now=T0 + 1.3)
    await giving_back
    await backend.acquire([demand], lease="after", now=T0 + 1.4)
    assert len(sent) == 2  # the give-back, then a share for this second: "after" was local


async def test_a_call_of_several_scopes_and_a_day_limit_is_counted_in_each(
    instances: Callable[[], RedisBackend],
) -> None:
    backend = instances()
    key = Demand(scope="key:a", rate=RateLimits(requests_per_minute=10**6))
    model = Demand(
        scope="model:p:gpt-4o",
        rate=RateLimits(tokens_per_minute=10**9),
        tokens=50,
        requests_per_day=10**6,
        day="day:2027-01-15",
        day_end=T0 + 3600,
    )
    await backend.seed_budget("model:p:gpt-4o", "day:2027-01-15", zero, ttl=None)
    sent = count_scripts(backend)
    for i in range(20):
        now = T0 + i * 0.01
        await backend.acquire([key, model], lease=f"l{i}", now=now)
        await backend.release(
            [key, model], lease=f"l{i}", admitted_at=now, tokens=20, cost=0, now=now
        )
    assert len(sent) <= 6  # a few shares of each scope, not a script per call
    await backend.shares.sweep(T0 + 2)
    redis, prefix = backend.redis, backend.prefix
    assert (await usage(backend))["requests"] == 20
    assert (await usage(backend, "model:p:gpt-4o"))["tokens"] == 20 * 20
    day = await redis.hget(f"{prefix}:bud:model:p:gpt-4o:day:2027-01-15", "spent")
    assert day is not None
    assert int(day) == 20
