"""An in-process cache of resolved keys, so the gateway checks a key without a query per call.

Entries live ``ttl`` seconds (at most one, so a revoked key is refused within a second,
DESIGN rule 5) and are reloaded in the background before they go stale, so steady traffic on
a key never waits for the store (``keyplane.freshness``); unknown keys are cached as well, so
a flood of made-up keys costs one lookup per key per ``ttl``. A malformed key is refused
without the store and is never cached. Concurrent misses for one key share one lookup. Store
errors propagate: the caller fails closed. The verdict is recomputed on every hit, so a key
that expires between lookups is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from keyplane.auth.resolve import KeyStatus, Resolution, key_status, resolve_key
from keyplane.errors import MalformedKeyError
from keyplane.freshness import RefreshAhead
from keyplane.keys import hash_key, parse_key
from keyplane.store.database import Database

MAX_TTL_SECONDS = 1.0


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
        self._resolutions: RefreshAhead[str, _Cached] = RefreshAhead(
            ttl_seconds, max_entries=max_entries, monotonic=monotonic
        )

    async def resolve(self, presented: str, *, now: datetime) -> Resolution:
        """The resolution of ``presented`` as of ``now``."""

        async def lookup() -> _Cached:
            parse_key(presented, brand=self.brand)  # raises before the store is asked
            async with self.db.session() as session:
                found = await resolve_key(session, presented=presented, brand=self.brand, now=now)
            return _Cached(found, _valid_until(found))

        try:
            return _at(await self._resolutions.get(hash_key(presented), lookup), now)
        except MalformedKeyError:
            return Resolution(KeyStatus.MALFORMED)

    def invalidate(self, digest: str | None = None) -> None:
        """Forget one key hash, or everything; for revocation broadcasts and tests."""
        self._resolutions.forget(digest)


@dataclass(frozen=True, slots=True)
class _Cached:
    resolution: Resolution
    # A valid key stays valid until the first of its expiries (None: it has none); nothing
    # else in its verdict changes with time, and a changed record is a new lookup.
    valid_until: datetime | None


def _valid_until(resolution: Resolution) -> datetime | None:
    key, secret = resolution.key, resolution.secret
    expiries = (
        None if key is None else key.expires_at,
        None if secret is None else secret.expires_at,
    )
    return min((each for each in expiries if each is not None), default=None)


def _at(cached: _Cached, now: datetime) -> Resolution:
    """The cached resolution with its verdict for ``now``: recomputed unless it was valid and
    no expiry has come since (the common case: a hit reads none of the key's columns)."""
    resolution = cached.resolution
    if resolution.status is KeyStatus.VALID and (
        cached.valid_until is None or now < cached.valid_until
    ):
        return resolution
    key = resolution.key
    if key is None:
        return resolution
    status = key_status(key, secret=resolution.secret, project=resolution.project, now=now)
    if status is resolution.status:
        return resolution
    return Resolution(status, resolution.kind, key, resolution.project, resolution.secret)
