"""CPU per limited call's two Redis script calls: redis-py against keyplane's RESP client.

    .venv/bin/python bench/limits_redis_client.py [--pairs 2000] [--rounds 3] [--redis URL]

One acquire + release pair of ``RedisBackend`` (a key with every limit and a budget, and
its project with rate limits: two scopes, twelve keys) run sequentially and 32 at a time;
the scripts go once through redis-py's ``Script`` objects and once through ``RespClient``
(what the backend uses), alternating, medians of the rounds. CPU is this process's
``time.process_time()``: the client's cost, not Redis's. Not a test: it gates nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from typing import Any

from redis.asyncio import Redis

from keyplane.limits.backend import Demand
from keyplane.limits.lua import ACQUIRE, RELEASE
from keyplane.limits.policy import Budget, RateLimits
from keyplane.limits.redis import RedisBackend
from keyplane.limits.resp import Packed

RATE = RateLimits(10**9, 10**12, 10_000)
WINDOW = "month:2099-01"


class RedisPy:
    """The scripts through redis-py, as the backend ran them before."""

    def __init__(self, client: Redis) -> None:
        self.scripts = {
            ACQUIRE: client.register_script(ACQUIRE),
            RELEASE: client.register_script(RELEASE),
        }

    async def evalsha(self, script: str, keys: Any, args: list[Any]) -> Any:
        names = [k.decode() for k in _unpack(keys)]
        flat = [v for arg in args for v in (_unpack(arg) if isinstance(arg, Packed) else [arg])]
        return await self.scripts[script](keys=names, args=flat)


def _unpack(keys: Any) -> list[bytes]:
    parts = keys.data.encode().split(b"\r\n")
    return [parts[i] for i in range(1, len(parts) - 1, 2)]


async def pairs(backend: RedisBackend, count: int, concurrency: int) -> float:
    scope = backend.prefix.rsplit(":", 1)[1]
    demands = [
        Demand(f"key:{scope}", RATE, Budget(10**12), WINDOW, time.time() + 86400, 100, 10),
        Demand(f"project:{scope}", RATE, tokens=100),
    ]

    async def one() -> None:
        lease, now = secrets.token_hex(8), time.time()
        await backend.acquire(demands, lease=lease, now=now)
        await backend.release(demands, lease=lease, admitted_at=now, tokens=90, cost=9, now=now)

    async def worker() -> None:
        for _ in range(count // concurrency):
            await one()

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - started) / count * 1e6


async def run(url: str, count: int, rounds: int) -> None:
    prefix = f"kp:bench:{secrets.token_hex(4)}"
    backend = RedisBackend.from_url(url, prefix=f"{prefix}:s")
    fast = backend.fast
    slow = RedisPy(backend.redis)
    await backend.redis.hset(f"{prefix}:s:bud:key:s:{WINDOW}", "spent", 0)
    results: dict[str, list[float]] = {}
    try:
        for _ in range(rounds):
            for name, client in (("redis-py", slow), ("RespClient", fast)):
                backend.fast = client  # type: ignore[assignment]
                await pairs(backend, 200, 8)  # warm
                for concurrency in (1, 32):
                    results.setdefault(f"{name}, {concurrency:2} at a time", []).append(
                        await pairs(backend, count, concurrency)
                    )
    finally:
        backend.fast = fast
        keys = [key async for key in backend.redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await backend.redis.delete(*keys)
        await backend.close()
    print(f"CPU µs per acquire+release pair, medians of {rounds} alternating rounds")
    for name, values in sorted(results.items()):
        each = ", ".join(f"{value:.0f}" for value in values)
        print(f"  {name:26} {statistics.median(values):6.0f}  (rounds: {each})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    asyncio.run(run(args.redis, args.pairs, args.rounds))


if __name__ == "__main__":
    main()
