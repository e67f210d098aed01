"""An in-process cache of resolved keys, so the gateway checks a key without a query per call.

Entries live ``ttl`` seconds (at most one, so a revoked key is refused within a second,
DESIGN rule 5); unknown keys are cached as well, so a flood of made-up keys costs one lookup
per key per ``ttl``. A malformed key is refused before the cache and the store. Concurrent
misses for one key share one lookup. Store errors propagate: the caller fails closed.
The verdict is recomputed on every hit, so a key that expires between lookups is refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from keyplane.auth.resolve import KeyStatus, Resolution, key_status, resolve_key
from keyplane.errors import MalformedKeyError
from keyplane.keys import hash_key, parse_key
from keyplane.store.database import Database

MAX_TTL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class _Cached:
    resolution: Resolution
    fresh_until: float


class KeyCache:
    """Resolutions by key hash, each kept for ``ttl`` seconds of monotonic time."""

    def __init__(
        self,
        database: Database,
        *,
        brand: str,
        ttl_seconds: float = MAX_TTL_SECONDS,
        max_entries: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be from 0 to {MAX_TTL_SECONDS}")
        self.db = database
        self.brand = brand
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[str, _Cached] = {}
        self._inflight: dict[str, asyncio.Future[Resolution]] = {}

    async def resolve(self, presented: str, *, now: datetime) -> Resolution:
        """The resolution of ``presented`` as of ``now``."""
        digest = hash_key(presented)
        entry = self._entries.get(digest)
        if entry is not None and entry.fresh_until > self._monotonic():
            return _at(entry.resolution, now)
        try:
            parse_key(presented, brand=self.brand)
        except MalformedKeyError:
            return Resolution(KeyStatus.MALFORMED)
        inflight = self._inflight.get(digest)
        if inflight is not None:
            return _at(await asyncio.shield(inflight), now)
        return await self._load(digest, presented, now)

    def invalidate(self, digest: str | None = None) -> None:
        """Forget one key hash, or everything; for revocation broadcasts and tests."""
        if digest is None:
            self._entries.clear()
        else:
            self._entries.pop(digest, None)

    async def _load(self, digest: str, presented: str, now: datetime) -> Resolution:
        future: asyncio.Future[Resolution] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            async with self.db.session() as session:
                resolution = await resolve_key(
                    session, presented=presented, brand=self.brand, now=now
                )
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved here, so an unawaited future logs nothing
            raise
        finally:
            del self._inflight[digest]
        future.set_result(resolution)
        self._store(digest, resolution)
        return resolution

    def _store(self, digest: str, resolution: Resolution) -> None:
        if len(self._entries) >= self.max_entries:
            self._evict()
        self._entries[digest] = _Cached(resolution, self._monotonic() + self.ttl)

    def _evict(self) -> None:
        now = self._monotonic()
        for digest in [d for d, entry in self._entries.items() if entry.fresh_until <= now]:
            del self._entries[digest]
        while len(self._entries) >= self.max_entries:
            # dicts keep insertion order: the first entry is the oldest
            del self._entries[next(iter(self._entries))]


def _at(resolution: Resolution, now: datetime) -> Resolution:
    """The cached resolution with its verdict recomputed for ``now``."""
    key = resolution.key
    if key is None:
        return resolution
    status = key_status(key, secret=resolution.secret, project=resolution.project, now=now)
    if status is resolution.status:
        return resolution
    return Resolution(status, resolution.kind, key, resolution.project, resolution.secret)
