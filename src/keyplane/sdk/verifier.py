"""``Verifier`` and ``AsyncVerifier``: is the key presented to your API good, and may it do this?

Malformed keys and bad checksums are refused here, without a network call. Other verdicts come
from the server's ``POST /v1/keys/verify`` and are cached briefly. A server that cannot be
reached fails closed: the verdict is ``UNAVAILABLE``, never a pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypedDict, Unpack

import httpx

from keyplane.keys.format import is_valid_key
from keyplane.sdk.cache import CacheKey, VerdictCache, slot_of
from keyplane.sdk.client import AsyncClient, Client
from keyplane.sdk.connection import Timeout
from keyplane.sdk.env import setting
from keyplane.sdk.errors import KeyplaneSDKError
from keyplane.sdk.verdict import VerifyCode, VerifyResult, refused

logger = logging.getLogger(__name__)

OnError = Literal["deny", "raise"]


class Policy:
    """What both verifiers do around the round trip: local checks, cache, failing closed."""

    def __init__(self, *, brand: str, cache: VerdictCache, on_error: OnError) -> None:
        self.brand = brand
        self.cache = cache
        self.on_error = on_error

    def before(self, key: str, scopes: Sequence[str], cost: int | None) -> VerifyResult | None:
        """A verdict reached without the server, if there is one."""
        if not is_valid_key(key, brand=self.brand):
            return refused(VerifyCode.MALFORMED)
        # A call that consumes credits or a rate limit must reach the server every time.
        return self.cache.get(key, scopes) if cost is None else None

    def after(
        self, key: str, scopes: Sequence[str], cost: int | None, result: VerifyResult
    ) -> VerifyResult:
        if cost is None:
            self.cache.put(key, scopes, result)
        return result

    def failed(self, error: KeyplaneSDKError) -> VerifyResult:
        if self.on_error == "raise":
            raise error
        logger.warning("key verification failed closed: %s", error)
        return refused(VerifyCode.UNAVAILABLE)


class VerifierOptions(TypedDict, total=False):
    """Options of ``Verifier`` and ``AsyncVerifier``; all optional.

    Attributes:
        cache_ttl: seconds a valid verdict is reused (default 5); a revoked key is refused
            within this time. ``0`` turns the cache off.
        negative_cache_ttl: seconds a definite refusal (unknown, revoked, ...) is reused
            (default 1, never more than ``cache_ttl``).
        max_cache_entries: the cache's bound (default 10,000); the oldest entry goes first.
        on_error: ``"deny"`` (default) answers ``UNAVAILABLE`` when the server cannot be
            asked, failing closed; ``"raise"`` raises the SDK error so you can decide.
        timeout: seconds to wait for the server (default 5); your request waits this long.
        brand: the deployment's key prefix; default ``KEYPLANE_KEY_BRAND``, then ``kp``.
        env_file: the ``.env`` file to read settings from (default ``.env``; ``None``: none).
        clock: monotonic seconds, for the cache.
    """

    cache_ttl: float
    negative_cache_ttl: float
    max_cache_entries: int
    on_error: OnError
    timeout: Timeout
    brand: str
    env_file: str | Path | None
    clock: Callable[[], float]


def _policy(options: VerifierOptions) -> Policy:
    ttl = options.get("cache_ttl", 5.0)
    cache = VerdictCache(
        ttl=ttl,
        negative_ttl=min(options.get("negative_cache_ttl", 1.0), ttl),
        max_entries=options.get("max_cache_entries", 10_000),
        clock=options.get("clock", time.monotonic),
    )
    env_file = options.get("env_file", ".env")
    brand = options.get("brand") or setting("KEYPLANE_KEY_BRAND", env_file=env_file) or "kp"
    return Policy(brand=brand, cache=cache, on_error=options.get("on_error", "deny"))


def _client_options(options: VerifierOptions) -> dict[str, Any]:
    return {"timeout": options.get("timeout", 5.0), "env_file": options.get("env_file", ".env")}


class Verifier:
    """Verify keys against a keyplane server, from blocking code.

    Args:
        base_url: the server; default ``KEYPLANE_URL`` (environment, then ``.env``).
        admin_key: an admin key of the organisation; default ``KEYPLANE_ADMIN_KEY``.
        transport: an httpx transport to send through.
        **options: see ``VerifierOptions`` (cache TTLs, ``on_error``, ``timeout``, ...).
    """

    def __init__(
        self,
        base_url: str | None = None,
        admin_key: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        **options: Unpack[VerifierOptions],
    ) -> None:
        self.client = Client(base_url, admin_key, transport=transport, **_client_options(options))
        self.policy = _policy(options)

    def verify(
        self, key: str, *, scopes: Sequence[str] = (), cost: int | None = None
    ) -> VerifyResult:
        """The verdict on ``key`` for ``scopes``; ``cost`` is consumed on the server if given."""
        early = self.policy.before(key, scopes, cost)
        if early is not None:
            return early
        try:
            result = self.client.keys.verify(key, scopes=scopes, cost=cost)
        except KeyplaneSDKError as error:
            return self.policy.failed(error)
        return self.policy.after(key, scopes, cost, result)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncVerifier:
    """The asyncio twin of ``Verifier``, for ASGI apps: the same arguments."""

    def __init__(
        self,
        base_url: str | None = None,
        admin_key: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Unpack[VerifierOptions],
    ) -> None:
        self.client = AsyncClient(
            base_url, admin_key, transport=transport, **_client_options(options)
        )
        self.policy = _policy(options)
        self._flights: dict[CacheKey, asyncio.Future[VerifyResult]] = {}

    async def verify(
        self, key: str, *, scopes: Sequence[str] = (), cost: int | None = None
    ) -> VerifyResult:
        """The verdict on ``key`` for ``scopes``; ``cost`` is consumed on the server if given."""
        early = self.policy.before(key, scopes, cost)
        if early is not None:
            return early
        if cost is not None:
            return await self._ask(key, scopes, cost)
        # Concurrent requests with the same uncached key share one round trip.
        slot = slot_of(key, scopes)
        flight = self._flights.get(slot)
        if flight is None:
            flight = asyncio.ensure_future(self._ask(key, scopes, None))
            self._flights[slot] = flight
            flight.add_done_callback(lambda _: self._flights.pop(slot, None))
        # Shielded: one waiter giving up must not cancel the answer the others wait for.
        return await asyncio.shield(flight)

    async def _ask(self, key: str, scopes: Sequence[str], cost: int | None) -> VerifyResult:
        try:
            result = await self.client.keys.verify(key, scopes=scopes, cost=cost)
        except KeyplaneSDKError as error:
            return self.policy.failed(error)
        return self.policy.after(key, scopes, cost, result)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> AsyncVerifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
