"""Token kinds upstream reports that ``usage_buckets`` has no column for, kept per day.

OpenAI's usage blocks carry more than input, output, cached and reasoning tokens: audio
tokens, accepted and rejected prediction tokens, and whatever comes next. ``UsageRecord``
keeps them as ``extra_tokens``; ``TokenKinds`` sums them per UTC day, key, model, endpoint,
upstream, tier and kind in memory and adds them to ``usage_token_kinds`` in batches, with the
same atomic upsert as the buckets. By the day, so the table stays small without a roll-up:
these counts are kept for billing audits, not drawn by the minute.

It flushes on its own timer and at shutdown; unlike the meter's buckets it is not journalled,
so a killed process loses the extra kinds since the last flush (never the billed tokens).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table

from keyplane.store.batches import adding_upsert, execute_in_batches
from keyplane.store.database import Database
from keyplane.store.models import UsageTokenKind
from keyplane.usage.buckets import BucketKey, bucket_of
from keyplane.usage.records import UsageRecord

logger = logging.getLogger(__name__)

_CONFLICT = (
    "bucket_start",
    "api_key_id",
    "model",
    "endpoint",
    "provider",
    "service_tier",
    "kind",
)
DAY = 86400
# A hostile upstream inventing kinds must not grow memory without bound between flushes.
MAX_PENDING_ROWS = 100_000


class TokenKinds:
    """Sums of extra token kinds per bucket, flushed every ``interval`` seconds."""

    def __init__(self, database: Database, *, interval_seconds: float = 2.0) -> None:
        self.db = database
        self.interval = interval_seconds
        self._pending: defaultdict[tuple[BucketKey, str], int] = defaultdict(int)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, record: UsageRecord) -> None:
        """Count the extra kinds of one call; a no-op for the usual call that has none."""
        if not record.extra_tokens:
            return
        minute = bucket_of(record)
        bucket = minute._replace(minute=minute.minute - minute.minute % DAY)
        pending = self._pending
        for kind, tokens in record.extra_tokens:
            if (bucket, kind) in pending or len(pending) < MAX_PENDING_ROWS:
                pending[bucket, kind] += tokens

    async def flush(self) -> int:
        """Add what is pending to the table in one transaction; how many rows."""
        async with self._lock:
            pending, self._pending = self._pending, defaultdict(int)
            if not pending:
                return 0
            try:
                await self._write(pending)
            except BaseException:
                for item, tokens in pending.items():
                    self._pending[item] += tokens
                raise
            return len(pending)

    async def _write(self, pending: dict[tuple[BucketKey, str], int]) -> None:
        rows = [_row(bucket, kind, tokens) for (bucket, kind), tokens in sorted(pending.items())]
        async with self.db.session() as session, session.begin():
            await execute_in_batches(session, _upsert(self.db.engine.dialect.name), rows)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-token-kinds-flusher")

    async def stop(self) -> None:
        """Stop the timer and write what is left."""
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
            except Exception:  # kept for the next try; a store outage must not stop metering
                logger.exception("could not write token kinds; %d kept for retry", self.pending)


def _row(bucket: BucketKey, kind: str, tokens: int) -> dict[str, object]:
    return {
        "bucket_start": datetime.fromtimestamp(bucket.minute, UTC),
        "organization_id": bucket.organization_id,
        "project_id": bucket.project_id,
        "api_key_id": bucket.api_key_id,
        "model": bucket.model,
        "endpoint": bucket.endpoint,
        "provider": bucket.provider,
        "service_tier": bucket.service_tier,
        "kind": kind,
        "tokens": tokens,
    }


def _upsert(dialect: str) -> Any:
    return adding_upsert(cast(Table, UsageTokenKind.__table__), _CONFLICT, ("tokens",), dialect)
