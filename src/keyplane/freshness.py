"""Values read from the store and kept a short while, reloaded before they go stale.

A value is served from memory while it is fresh (``ttl`` seconds from the moment its load
started, so it never shows the store as older than that). Once it is ``ahead`` of its age
from stale, the first caller starts one reload in the background and every caller still gets
the value in hand: steady traffic never waits on the store. Only a value already stale (no
caller for a while) is waited for, and callers asking at once share that one load.

Why: a value that expired under load made every call arriving during its reload wait for the
store. At 1,400 calls a second, the organisation's spend limit read once a second held ~32
calls for 20-60 ms each time, most of the gateway's p99 (docs/benchmarks.md, "The tail").

``forget`` drops values (a revocation); a load that started before it stores nothing and no
later caller waits for it, so a reload in flight cannot bring back what was forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    refresh_at: float
    stale_at: float


@dataclass(frozen=True, slots=True)
class _Begun(Generic[V]):
    future: asyncio.Future[V]
    started: float
    generation: int


class RefreshAhead(Generic[K, V]):
    """Values by key, each fresh for ``ttl`` seconds and reloaded in its last ``ahead`` part."""

    def __init__(
        self,
        ttl: float,
        *,
        ahead: float = 0.2,
        max_entries: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or not 0 <= ahead <= 1:
            raise ValueError("ttl must not be negative and ahead must be from 0 to 1")
        self.ttl = ttl
        self.ahead = ahead
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[K, _Entry[V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._generation = 0

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The value of ``key``: from memory while fresh, else from ``load`` (shared)."""
        entry = self._entries.get(key)
        now = self._monotonic()
        if entry is not None and now < entry.stale_at:
            if now >= entry.refresh_at and key not in self._loading:
                self._refresh(key, load)
            return entry.value
        loading = self._loading.get(key)
        if loading is not None:
            return await asyncio.shield(loading)
        return await self._load(key, load)

    def last(self, key: K, default: D) -> V | D:
        """The last value loaded for ``key``, fresh or not (what to fall back on)."""
        entry = self._entries.get(key)
        return default if entry is None else entry.value

    def forget(self, key: K | None = None) -> None:
        """Drop one key's value, or all; loads already started store nothing."""
        self._generation += 1
        if key is None:
            self._entries.clear()
            self._loading.clear()
        else:
            self._entries.pop(key, None)
            self._loading.pop(key, None)  # later callers start a load of their own

    def _refresh(self, key: K, load: Callable[[], Awaitable[V]]) -> None:
        begun = self._begin(key)  # before the task runs: the next caller sees it loading
        task = asyncio.get_running_loop().create_task(self._reload(key, load, begun))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _reload(self, key: K, load: Callable[[], Awaitable[V]], begun: _Begun[V]) -> None:
        try:
            await self._run(key, load, begun)
        except Exception as error:  # noqa: BLE001 - nobody awaits this task to hear of it
            # The value in hand serves until stale; then callers wait for a load and see the
            # error themselves. Only its type is logged: a message might quote what was read.
            logger.warning("background reload failed: %s", type(error).__name__)

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        return await self._run(key, load, self._begin(key))

    def _begin(self, key: K) -> _Begun[V]:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        return _Begun(future, self._monotonic(), self._generation)

    async def _run(self, key: K, load: Callable[[], Awaitable[V]], begun: _Begun[V]) -> V:
        try:
            value = await load()
        except BaseException as error:
            begun.future.set_exception(error)
            begun.future.exception()  # retrieved here, so an unawaited future logs nothing
            raise
        finally:
            if self._loading.get(key) is begun.future:
                del self._loading[key]
        begun.future.set_result(value)
        if begun.generation == self._generation:
            self._store(key, value, begun.started)
        return value

    def _store(self, key: K, value: V, started: float) -> None:
        if key not in self._entries and len(self._entries) >= self.max_entries:
            self._evict(started)
        refresh_at = started + self.ttl * (1 - self.ahead)
        self._entries[key] = _Entry(value, refresh_at, started + self.ttl)

    def _evict(self, now: float) -> None:
        for key in [k for k, entry in self._entries.items() if entry.stale_at <= now]:
            del self._entries[key]
        while len(self._entries) >= self.max_entries:
            # dicts keep insertion order: the first entry is the oldest
            del self._entries[next(iter(self._entries))]
