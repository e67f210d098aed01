"""The Redis backend: counters shared by every keyplane instance, updated by Lua scripts.

Each script checks every demand of a call and then applies them all, inside Redis, so two
instances can never both take the last unit of a limit. Keys per scope::

    <prefix>:rq:<scope>            hash  slot -> requests          (expires after 2 windows)
    <prefix>:tk:<scope>            hash  slot -> tokens
    <prefix>:par:<scope>           zset  lease -> expiry           (parallel requests)
    <prefix>:bud:<scope>:<window>  hash  spent, reserved           (micro-USD)
    <prefix>:bres:<scope>:<window> hash  lease -> reserved amount
    <prefix>:bexp:<scope>:<window> zset  lease -> expiry
"""

from __future__ import annotations

from collections.abc import Sequence
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
)
from keyplane.limits.lua import ACQUIRE, RELEASE, STATUS

KIND = {1: "requests", 2: "tokens", 3: "parallel", 4: "budget"}
DAY = 86400


class RedisBackend:
    def __init__(self, client: Redis, *, prefix: str = "kp:lim") -> None:
        self.redis = client
        self.prefix = prefix
        self._acquire = client.register_script(ACQUIRE)
        self._release = client.register_script(RELEASE)
        self._status = client.register_script(STATUS)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "kp:lim") -> RedisBackend:
        # A blocking pool makes a burst of calls wait for a connection instead of failing.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=2, socket_timeout=2, socket_connect_timeout=2
        )
        return cls(Redis(connection_pool=pool), prefix=prefix)

    async def acquire(
        self, demands: Sequence[Demand], *, lease: str, now: float
    ) -> list[ScopeStatus]:
        args: list[Any] = [now, lease, LEASE_SECONDS]
        for demand in demands:
            args += _demand_args(demand, now)
        reply = await self._call(self._acquire, self._keys(demands), args)
        code = int(reply[0])
        if code == -1:
            demand = demands[int(reply[1])]
            raise BudgetUnseeded(demand.scope, demand.window or "")
        if code > 0:
            demand = demands[int(reply[1])]
            raise LimitExceeded(
                scope=demand.scope,
                kind=KIND[code],
                limit=int(reply[2]),
                retry_after=int(reply[3]) / 1000,
            )
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
        args: list[Any] = [now, lease, admitted_at, tokens, cost]
        for demand in demands:
            args += _demand_args(demand, now)
        reply = await self._call(self._release, self._keys(demands), args)
        changes = []
        for index, demand in enumerate(demands):
            before, after = int(reply[2 * index]), int(reply[2 * index + 1])
            if demand.budget is not None and demand.window is not None and before >= 0:
                changes.append(
                    BudgetChange(demand.scope, demand.window, demand.budget, before, after)
                )
        return changes

    async def status(self, demands: Sequence[Demand], *, now: float) -> list[ScopeStatus]:
        args: list[Any] = [now, "", LEASE_SECONDS]
        for demand in demands:
            args += _demand_args(demand, now)
        reply = await self._call(self._status, self._keys(demands), args)
        return _statuses(demands, reply)

    async def seed_budget(self, scope: str, window: str, seed: Seed, *, ttl: float | None) -> None:
        key = f"{self.prefix}:bud:{scope}:{window}"
        try:
            if await self.redis.hexists(key, "spent"):
                return
            spent = await seed()
            await self.redis.hsetnx(key, "spent", spent)
            if ttl is not None:
                await self.redis.expire(key, int(ttl) + DAY)
        except (RedisError, OSError) as exc:
            raise LimitsUnavailable(str(exc)) from exc

    async def close(self) -> None:
        await self.redis.aclose()

    def _keys(self, demands: Sequence[Demand]) -> list[str]:
        keys = []
        for demand in demands:
            window = demand.window or "-"
            keys += [
                f"{self.prefix}:rq:{demand.scope}",
                f"{self.prefix}:tk:{demand.scope}",
                f"{self.prefix}:par:{demand.scope}",
                f"{self.prefix}:bud:{demand.scope}:{window}",
                f"{self.prefix}:bres:{demand.scope}:{window}",
                f"{self.prefix}:bexp:{demand.scope}:{window}",
            ]
        return keys

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> list[Any]:
        try:
            reply: list[Any] = await script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise LimitsUnavailable(str(exc)) from exc
        return reply


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
    ]


def _or_minus(value: int | None) -> int:
    return -1 if value is None else value


def _statuses(demands: Sequence[Demand], flat: Sequence[Any]) -> list[ScopeStatus]:
    out = []
    for index, demand in enumerate(demands):
        v = [int(x) for x in flat[9 * index : 9 * index + 9]]
        out.append(
            ScopeStatus(
                scope=demand.scope,
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
        )
    return out
