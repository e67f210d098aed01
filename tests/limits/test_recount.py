"""Seeding a budget on Redis waits until every instance has written the usage it holds."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from keyplane.config import Settings
from keyplane.limits import redis as redis_backend
from keyplane.limits.backend import BudgetUnseeded, LimitExceeded, LimitsUnavailable
from keyplane.runtime.runtime import Runtime
from keyplane.usage.meter import Meter
from limits.test_backends import T0, budget_demand, zero
from support.redis_server import redis_url

pytestmark = pytest.mark.redis
WINDOW = "month:2027-01"


class Instance:
    """One keyplane instance's backend, with a meter stand-in: the spend it has not written."""

    def __init__(self, prefix: str, store: list[int], *, broken: bool = False) -> None:
        self.backend = redis_backend.RedisBackend.from_url(redis_url(), prefix=prefix)
        self.backend.recount_with(self.flush)
        self.store = store
        self.held = 0
        self.broken = broken
        self.flushes = 0

    async def flush(self) -> None:
        self.flushes += 1
        if self.broken:
            raise ConnectionError("store unreachable")
        self.store.append(self.held)
        self.held = 0


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    prefix = "kp:test:" + secrets.token_hex(4)
    yield prefix
    probe = redis_backend.RedisBackend.from_url(redis_url(), prefix=prefix)
    keys = [key async for key in probe.redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await probe.redis.delete(*keys)
    await probe.close()


async def test_a_seed_reads_the_store_after_every_instance_flushed(prefix: str) -> None:
    store: list[int] = []
    first, second = Instance(prefix, store), Instance(prefix, store)
    await first.backend.start()
    await second.backend.start()
    first.held, second.held = 30, 40  # metered, not written yet

    async def seed() -> int:
        return sum(store)

    await first.backend.seed_budget("key:a", WINDOW, seed, ttl=3600)
    with pytest.raises(LimitExceeded):
        await first.backend.acquire([budget_demand(limit=100, cost=31)], lease="x", now=T0)
    await second.backend.acquire([budget_demand(limit=100, cost=30)], lease="y", now=T0)
    await first.backend.close()
    await second.backend.close()


async def test_if_an_instance_cannot_write_its_usage_then_the_seed_refuses(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_backend, "RECOUNT_SECONDS", 0.3)
    store: list[int] = []
    healthy, broken = Instance(prefix, store), Instance(prefix, store, broken=True)
    await healthy.backend.start()
    await broken.backend.start()
    with pytest.raises(LimitsUnavailable):
        await healthy.backend.seed_budget("key:a", WINDOW, zero, ttl=3600)
    with pytest.raises(BudgetUnseeded):  # not seeded with a guess
        await healthy.backend.acquire([budget_demand(limit=100, cost=1)], lease="x", now=T0)
    await broken.backend.close()  # it leaves, and says so: the seed no longer waits for it
    for _ in range(20):  # until the goodbye has reached the healthy instance's listener
        try:
            await healthy.backend.seed_budget("key:a", WINDOW, zero, ttl=3600)
            break
        except LimitsUnavailable:
            continue
    await healthy.backend.acquire([budget_demand(limit=100, cost=1)], lease="x", now=T0)
    await healthy.backend.close()


async def test_a_call_settled_after_redis_lost_its_window_does_not_seed_it(prefix: str) -> None:
    backend = redis_backend.RedisBackend.from_url(redis_url(), prefix=prefix)
    await backend.seed_budget("key:a", WINDOW, zero, ttl=3600)
    demand = budget_demand(limit=100, cost=30)
    await backend.acquire([demand], lease="a", now=T0)
    keys = [key async for key in backend.redis.scan_iter(match=f"{prefix}:*")]
    await backend.redis.delete(*keys)  # what FLUSHALL does to this instance's counters
    changes = await backend.release(
        [demand], lease="a", admitted_at=T0, tokens=0, cost=30, now=T0 + 1
    )
    assert changes == []
    with pytest.raises(BudgetUnseeded):  # the seed will count this call from the usage store
        await backend.acquire([demand], lease="b", now=T0 + 2)
    await backend.close()


async def test_seeds_needed_at_the_same_time_share_recounts(prefix: str) -> None:
    store: list[int] = []
    first, second = Instance(prefix, store), Instance(prefix, store)
    await first.backend.start()
    await second.backend.start()
    scopes = [f"key:{i}" for i in range(20)]
    await asyncio.gather(
        *(first.backend.seed_budget(scope, WINDOW, zero, ttl=3600) for scope in scopes)
    )
    for scope in scopes:
        demand = replace(budget_demand(limit=100, cost=1), scope=scope)
        await first.backend.acquire([demand], lease="x", now=T0)
    assert 1 <= second.flushes <= 2  # one recount, and one for the seeds that came after it
    await first.backend.close()
    await second.backend.close()


async def test_a_seed_waits_for_an_instance_that_is_still_replaying_journals(
    prefix: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    replaying, replayed = asyncio.Event(), asyncio.Event()
    open_meter = Meter.open

    async def slow_open(meter: Meter) -> None:  # the journals of a killed worker, say
        replaying.set()
        await replayed.wait()
        await open_meter(meter)

    monkeypatch.setattr(Meter, "open", slow_open)
    starting = settings.model_copy(update={"redis_url": redis_url(), "redis_prefix": prefix})
    stop = asyncio.Event()

    async def restarted_instance() -> None:
        async with Runtime.running(starting):
            await stop.wait()

    instance = asyncio.create_task(restarted_instance())
    await replaying.wait()
    serving = Instance(prefix, [])
    await serving.backend.start()
    seed = asyncio.create_task(serving.backend.seed_budget("key:a", WINDOW, zero, ttl=3600))
    await asyncio.sleep(0.3)
    assert not seed.done()  # the store does not hold the replayed calls yet
    replayed.set()
    await seed
    stop.set()
    await instance
    await serving.backend.close()
