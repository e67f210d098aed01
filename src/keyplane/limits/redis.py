"""The Redis backend: counters shared by every keyplane instance, updated by Lua scripts.

Each script checks every demand of a call and then applies them all, inside Redis, so two
instances can never both take the last unit of a limit. Keys per scope::

    <prefix>:rq:<scope>            hash  slot -> requests          (expires after 2 windows)
    <prefix>:tk:<scope>            hash  slot -> tokens
    <prefix>:par:<scope>           zset  lease -> expiry           (parallel requests)
    <prefix>:bud:<scope>:<window>  hash  spent, reserved           (micro-USD)
    <prefix>:bres:<scope>:<window> hash  lease -> reserved amount
    <prefix>:bexp:<scope>:<window> zset  lease -> expiry
    <prefix>:bud:<scope>:<day>     hash  spent: requests admitted that UTC day (a per-model
                                         requests-per-day limit, seeded like a budget)
    <prefix>:recounted:<request>   set   instances that wrote their usage for a recount

Seeding a budget from the store is exact only if the store holds every call settled so far,
and each instance holds some calls in memory (and its journal) until its next flush. So a
seed is a fence: the seeding instance publishes a recount request on ``<prefix>:recount``,
every instance (each subscribed since it started) flushes its meter and adds itself to the
request's set, and only when all that received the request have answered does the seed read
the store. Subscriptions are connections, not data: a ``FLUSHALL`` keeps them, and a Redis
restart drops every one, so ``PUBLISH``'s receiver count is the set of instances alive. An
instance that is still reconnecting would be missed, so the count is never taken as lower
than the highest seen in the last minute (until an instance says goodbye); fewer answers
than that within ``RECOUNT_SECONDS`` refuse the call with 503 rather than guess. An instance
subscribes before it replays the journals of processes that died, and answers once they are
in the store; its recount also takes in any journal of its data dir whose process died since.
A seed may miss only calls in flight while the counters were lost, and the journal of an
instance that died on a data dir no live instance shares, until it starts again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from keyplane.limits.backend import (
    LEASE_SECONDS,
    BudgetChange,
    BudgetUnseeded,
    Demand,
    LimitExceeded,
    LimitsUnavailable,
    ScopeStatus,
    Seed,
    scope_status,
)
from keyplane.limits.lua import ACQUIRE, RELEASE, SHARE, STATUS
from keyplane.limits.resp import Packed, ReplyError, RespClient, packed
from keyplane.limits.shares import Share, Shares, settles

logger = logging.getLogger(__name__)

KIND = {1: "requests", 2: "tokens", 3: "parallel", 4: "budget", 5: "requests_per_day"}
DAY = 86400
RECOUNT_SECONDS = 5.0  # how long a seed waits for every instance to write its usage
PEERS_REMEMBERED = 60.0  # seconds an instance counts towards the instances a recount awaits
_BYE = b"bye"

Recount = Callable[[], Awaitable[object]]


class RedisBackend:
    """Counters in Redis; ``fast`` carries the scripts of the request path (see resp.py)."""

    def __init__(self, client: Redis, fast: RespClient, *, prefix: str = "kp:lim") -> None:
        self.redis = client
        self.fast = fast
        self.prefix = prefix
        self._packed: dict[tuple[str, str | None, str | None], Packed] = {}
        # Each admitted call's demand arguments, packed once: its release sends them again.
        self._leased: dict[str, Packed] = {}
        self.instance = secrets.token_hex(8)
        self._recount: Recount | None = None
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._peers: list[tuple[float, int]] = []  # (monotonic time, instances seen)
        self._answers: set[asyncio.Task[None]] = set()
        self._fencing: asyncio.Future[None] | None = None
        self._fence_started = 0.0
        # Local shares of each scope's limits (shares.py): most calls never wait for Redis.
        self.shares = Shares(self._renew_share, instance=self.instance)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "kp:lim") -> RedisBackend:
        # A blocking pool makes a burst of calls wait for a connection instead of failing.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=2, socket_timeout=2, socket_connect_timeout=2
        )
        return cls(Redis(connection_pool=pool), RespClient(url, timeout=2), prefix=prefix)

    async def acquire(
        self, demands: Sequence[Demand], *, lease: str, now: float
    ) -> list[ScopeStatus]:
        # Most calls fit their shares as they are, with no coroutine; else renew, or ask Redis.
        local = self.shares.admit_now(demands, lease, now)
        if local is None:
            local = await self.shares.admit(demands, lease, now)
        if local is not None:
            return local
        demanded = _demanded(demands, now)
        args: list[Any] = [now, lease, LEASE_SECONDS, demanded]
        reply = await self._call(ACQUIRE, self._keys(demands), args)
        code = int(reply[0])
        if code < 0:  # -1: a budget window, -2: a requests-per-day day
            demand = demands[int(reply[1])]
            raise BudgetUnseeded(demand.scope, (demand.window if code == -1 else demand.day) or "")
        if code > 0:
            demand = demands[int(reply[1])]
            raise LimitExceeded(
                scope=demand.scope,
                kind=KIND[code],
                limit=int(reply[2]),
                retry_after=int(reply[3]) / 1000,
            )
        if len(self._leased) >= 100_000:  # releases that never came (a cancelled call)
            self._leased.clear()
        self._leased[lease] = demanded
        return _statuses(demands, reply[1:])

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
        # The script reads only what did not change since the acquire (the limits and the
        # tokens reserved), so the acquire's arguments serve again.
        local = self.shares.settle(lease, demands, tokens=tokens, cost=cost, now=now)
        if local is not None:
            return local
        demanded = self._leased.pop(lease, None)
        if not any(settles(demand) for demand in demands):
            return []  # requests per minute or per day only: nothing to give back or true up
        demanded = demanded or _demanded(demands, now)
        args: list[Any] = [now, lease, admitted_at, tokens, cost, demanded]
        reply = await self._call(RELEASE, self._keys(demands), args)
        changes = []
        for index, demand in enumerate(demands):
            before, after = int(reply[2 * index]), int(reply[2 * index + 1])
            if demand.budget is not None and demand.window is not None and before >= 0:
                changes.append(
                    BudgetChange(demand.scope, demand.window, demand.budget, before, after)
                )
        return changes

    async def status(self, demands: Sequence[Demand], *, now: float) -> list[ScopeStatus]:
        args: list[Any] = [now, "", LEASE_SECONDS, _demanded(demands, now)]
        reply = await self._call(STATUS, self._keys(demands), args)
        return _statuses(demands, reply)

    async def seed_budget(self, scope: str, window: str, seed: Seed, *, ttl: float | None) -> None:
        key = f"{self.prefix}:bud:{scope}:{window}"
        try:
            await self._seed_once(key, seed, ttl)
        except (RedisError, OSError) as exc:
            raise LimitsUnavailable(str(exc)) from exc
        self.shares.seeded(scope)

    async def _seed_once(self, key: str, seed: Seed, ttl: float | None) -> None:
        if await self.redis.hexists(key, "spent"):
            return
        if self._recount is not None:
            await self._fence()
            if await self.redis.hexists(key, "spent"):
                return  # seeded by another call meanwhile: no second count of the store
        spent = await seed()
        await self.redis.hsetnx(key, "spent", spent)
        if ttl is not None:
            await self.redis.expire(key, int(ttl) + DAY)

    def recount_with(self, flush: Recount) -> None:
        """Take part in recounts: ``flush`` writes this instance's usage to the store."""
        self._recount = flush

    async def start(self) -> None:
        """Subscribe to recount requests (waiting briefly, so a served call is counted)."""
        if self._recount is None:
            return
        self._listener = asyncio.create_task(self._listen(), name="limits-recount-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 2)

    async def close(self) -> None:
        await self.shares.close()
        if self._listener is not None:
            for task in (self._listener, *self._answers):
                task.cancel()
            await asyncio.gather(self._listener, *self._answers, return_exceptions=True)
            with contextlib.suppress(RedisError, OSError):
                await self.redis.publish(self._channel, _BYE)  # do not wait for me any more
        await self.fast.close()
        await self.redis.aclose()

    @property
    def _channel(self) -> str:
        return f"{self.prefix}:recount"

    async def _fence(self) -> None:
        """Return once every instance has written its usage to the store; else unavailable.

        Seeds that need one at the same time share it: a recount that began after a seed
        found its window missing serves it (calls recorded after an instance flushed for it
        were admitted before the window was lost: in flight). An older one does not.
        """
        needed = time.monotonic()
        while True:
            running = self._fencing
            if running is None or running.done():
                self._fence_started = time.monotonic()
                running = self._fencing = asyncio.ensure_future(self._recount_all())
                return await asyncio.shield(running)
            if self._fence_started >= needed:
                return await asyncio.shield(running)
            with contextlib.suppress(Exception):
                await asyncio.shield(running)  # too old for this seed: the next one is

    async def _recount_all(self) -> None:
        request = secrets.token_hex(8)
        answered = f"{self.prefix}:recounted:{request}"
        receivers = int(await self.redis.publish(self._channel, request))
        expected = max(receivers, self._peers_seen(receivers))
        deadline = time.monotonic() + RECOUNT_SECONDS
        while int(await self.redis.scard(answered)) < expected:
            if time.monotonic() > deadline:
                raise LimitsUnavailable(
                    f"{expected} instances should have written their usage before a budget "
                    f"seed; {int(await self.redis.scard(answered))} did"
                )
            await asyncio.sleep(0.01)

    def _peers_seen(self, now_seen: int) -> int:
        now = time.monotonic()
        self._peers = [(at, n) for at, n in self._peers if now - at < PEERS_REMEMBERED]
        self._peers.append((now, now_seen))
        return max(n for _, n in self._peers)

    async def _listen(self) -> None:
        warned = False
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                self._subscribed.set()
                warned = False
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                    if message is not None and message.get("type") == "message":
                        self._on_message(message["data"])
            except (RedisError, OSError):
                if not warned:
                    logger.warning("recount channel lost; resubscribing to Redis")
                warned = True
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _on_message(self, data: bytes) -> None:
        if data == _BYE:
            self._peers.clear()  # an instance left on purpose, having written its usage
            return
        task = asyncio.create_task(self._answer(data.decode()))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer(self, request: str) -> None:
        assert self._recount is not None
        try:
            await self._recount()
        except Exception:  # no answer: the seed waits, then refuses (503); never a wrong seed
            logger.exception("could not write usage for a budget recount")
            return
        answered = f"{self.prefix}:recounted:{request}"
        with contextlib.suppress(RedisError, OSError):
            await self.redis.sadd(answered, self.instance)
            await self.redis.expire(answered, 60)

    def _keys(self, demands: Sequence[Demand]) -> Packed:
        """The keys of ``demands``, packed once per scope and window (they recur)."""
        parts = []
        for demand in demands:
            part = self._packed.get((demand.scope, demand.window, demand.day))
            if part is None:
                if len(self._packed) >= 10_000:
                    self._packed.clear()
                window = demand.window or "-"
                part = self._packed[demand.scope, demand.window, demand.day] = packed(
                    [
                        f"{self.prefix}:rq:{demand.scope}",
                        f"{self.prefix}:tk:{demand.scope}",
                        f"{self.prefix}:par:{demand.scope}",
                        f"{self.prefix}:bud:{demand.scope}:{window}",
                        f"{self.prefix}:bres:{demand.scope}:{window}",
                        f"{self.prefix}:bexp:{demand.scope}:{window}",
                        f"{self.prefix}:bud:{demand.scope}:{demand.day or '-'}",
                    ]
                )
            parts.append(part)
        if len(parts) == 1:
            return parts[0]
        return Packed(sum(p.arity for p in parts), "".join(p.data for p in parts))

    async def _renew_share(self, share: Share, sent: Sequence[Any], now: float) -> list[Any]:
        args: list[Any] = [now, share.id, LEASE_SECONDS, _demanded([share.demand], now), *sent]
        return await self._call(SHARE, self._keys([share.demand]), args)

    async def _call(self, script: str, keys: Packed, args: list[Any]) -> list[Any]:
        try:
            reply: list[Any] = await self.fast.evalsha(script, keys, args)
        except (ReplyError, OSError) as exc:  # TimeoutError and ConnectionError are OSErrors
            raise LimitsUnavailable(str(exc) or type(exc).__name__) from exc
        return reply


def _demanded(demands: Sequence[Demand], now: float) -> Packed:
    args: list[Any] = []
    for demand in demands:
        args += _demand_args(demand, now)
    return packed(args)


def _demand_args(demand: Demand, now: float) -> list[Any]:
    rate = demand.rate
    budget = demand.budget
    window_ttl = -1 if demand.window_end is None else max(int(demand.window_end - now), 1) + DAY
    return [
        demand.requests,
        _or_minus(rate.requests_per_minute if rate else None),
        demand.tokens,
        _or_minus(rate.tokens_per_minute if rate else None),
        _or_minus(rate.max_parallel_requests if rate else None),
        -1 if budget is None or demand.window is None else budget.limit_micro_usd,
        demand.cost,
        -1 if demand.window_end is None else int((demand.window_end - now) * 1000),
        window_ttl,
        _or_minus(demand.requests_per_day if demand.day is not None else None),
        -1 if demand.day_end is None else int((demand.day_end - now) * 1000),
    ]


def _or_minus(value: int | None) -> int:
    return -1 if value is None else value


def _statuses(demands: Sequence[Demand], flat: Sequence[Any]) -> list[ScopeStatus]:
    return [
        scope_status(demand.scope, flat[9 * index : 9 * index + 9])
        for index, demand in enumerate(demands)
    ]
