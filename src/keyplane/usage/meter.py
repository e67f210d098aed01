"""The meter: calls summed in memory per minute bucket, flushed in batches off the request path.

``record`` is a few dictionary operations and never waits. A background task flushes every
``interval`` seconds; ``stop`` (at graceful shutdown) flushes what is left. A flush is one
transaction: when it fails nothing was written, and its totals go back into memory for the
next try, so nothing is lost and nothing is counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from keyplane.store.database import Database
from keyplane.usage.buckets import BucketKey, add_to_buckets
from keyplane.usage.counters import UsageCounters
from keyplane.usage.records import UsageRecord

logger = logging.getLogger(__name__)


class Meter:
    def __init__(self, database: Database, *, interval_seconds: float = 2.0) -> None:
        self.db = database
        self.interval = interval_seconds
        self._pending: dict[BucketKey, UsageCounters] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()

    @property
    def pending(self) -> int:
        """How many buckets wait to be written."""
        return len(self._pending)

    def record(self, record: UsageRecord) -> None:
        """Count one call that reached upstream."""
        key = BucketKey(
            record.minute,
            record.api_key_id,
            record.model,
            record.endpoint,
            record.provider,
            record.service_tier,
            record.organization_id,
            record.project_id,
        )
        totals = self._pending.get(key)
        if totals is None:
            totals = self._pending[key] = UsageCounters()
        tokens = record.tokens
        totals.requests += 1
        totals.error_requests += record.is_error
        totals.input_tokens += tokens.input
        totals.output_tokens += tokens.output
        totals.cached_tokens += tokens.cached
        totals.reasoning_tokens += tokens.reasoning
        totals.cache_write_tokens += tokens.cache_write
        totals.estimated_requests += record.estimated
        totals.cost_micro_usd += record.cost_micro_usd
        totals.unpriced_requests += not record.priced
        totals.latency_ms_total += record.latency_ms

    async def flush(self) -> int:
        """Write what is pending; return how many buckets were written."""
        async with self._lock:  # one flush at a time: the shutdown flush waits for a running one
            pending, self._pending = self._pending, {}
            if not pending:
                return 0
            try:
                async with self.db.session() as session, session.begin():
                    await add_to_buckets(
                        session, list(pending.items()), dialect=self.db.engine.dialect.name
                    )
            except BaseException:
                self._restore(pending)
                raise
            return len(pending)

    def _restore(self, pending: dict[BucketKey, UsageCounters]) -> None:
        for key, totals in pending.items():
            current = self._pending.get(key)
            if current is None:
                self._pending[key] = totals
            else:
                current.add(totals)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-meter-flusher")

    async def stop(self) -> None:
        """Stop the background flusher and write everything that is left."""
        # Not a cancel: a flush cut short mid-commit could not tell whether it was written.
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            try:
                await self.flush()
            except (
                Exception
            ):  # keep the data and retry later; a store outage must not stop metering
                logger.exception("could not write usage buckets; %d kept for retry", self.pending)
