"""Both limit backends, so every behaviour is checked on each."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from keyplane.limits.backend import LimitBackend
from keyplane.limits.memory import MemoryBackend
from keyplane.limits.redis import RedisBackend
from support.redis_server import redis_url


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[LimitBackend]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    prefix = "kp:test:" + secrets.token_hex(4)
    redis_backend = RedisBackend.from_url(redis_url(), prefix=prefix)
    yield redis_backend
    keys = [key async for key in redis_backend.redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis_backend.redis.delete(*keys)
    await redis_backend.close()


def count_scripts(backend: RedisBackend) -> list[str]:
    """The scripts ``backend`` sends to Redis from now on, by their first line of Lua."""
    sent: list[str] = []
    evalsha = backend.fast.evalsha

    async def counted(script: str, keys: Any, args: list[Any]) -> Any:
        sent.append(script)
        return await evalsha(script, keys, args)

    backend.fast.evalsha = counted  # type: ignore[method-assign]
    return sent
