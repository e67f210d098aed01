"""The meter: calls summed in memory per minute bucket, journalled, flushed in batches.

``record`` is a few dictionary operations and one write(2) to the journal, and never waits:
when it returns, the call survives ``kill -9`` (see ``journal.py``). A background task
flushes every ``interval`` seconds; ``stop`` (at graceful shutdown) flushes what is left.

A flush seals what is pending into a batch with an id (its journal segment's name) and
writes it in one transaction that also claims the id in ``usage_batches``. When the commit
fails, or succeeds but its acknowledgement is lost, the same batch is retried as it is, and a
batch already claimed is skipped: nothing is lost and nothing is counted twice. New calls wait
in the next batch meanwhile; a batch's segment is deleted once the batch is in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import count

from sqlalchemy import func, select

from keyplane.store.database import Database
from keyplane.store.models import UsageBatch, UsageBucket, UsageDay
from keyplane.usage.buckets import (
    DAY,
    BucketKey,
    add_to_buckets,
    add_to_days,
    bucket_line,
    bucket_of,
    claim_batch,
    counts_line,
    forget_old_batches,
    parse_bucket_line,
)
from keyplane.usage.counters import UsageCounters
from keyplane.usage.journal import Journal, Orphan, Segment, read_lines
from keyplane.usage.records import MAX_TOKENS, ODD_VALUES, Tokens, UsageRecord

logger = logging.getLogger(__name__)

# Far above any real call's price; a cost above it is an error upstream of the meter.
MAX_COST_MICRO_USD = 10**12
ADOPT_SECONDS = 30.0  # how often to look for journals of processes that are gone
PRUNE_SECONDS = 3600.0
# While the store is down the open segment grows by a line per call; past this size it is
# rewritten as one line per bucket.
COMPACT_BYTES = 4 * 1024 * 1024


@dataclass(slots=True)
class _Batch:
    id: str
    buckets: dict[BucketKey, UsageCounters]
    segment: Segment | None = None
    orphan: Orphan | None = None


class Meter:
    def __init__(
        self,
        database: Database,
        *,
        interval_seconds: float = 2.0,
        journal: Journal | None = None,
        compact_bytes: int = COMPACT_BYTES,
    ) -> None:
        self.db = database
        self.compact_bytes = compact_bytes
        self.interval = interval_seconds
        self.journal = journal
        self._pending: dict[BucketKey, UsageCounters] = {}
        self._unsent: list[_Batch] = []  # sealed, not yet known to be in the store
        self._batch_ids = count(1)
        self._name = "m" + secrets.token_hex(8)  # batch ids of a meter without a journal
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._adopting = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._opened = asyncio.Event()  # the journals of processes that are gone are taken in
        if journal is None:
            self._opened.set()
        self._odd_before = ODD_VALUES.count  # the process's, before this meter began
        self._clamped = 0
        self._journal_broken = False

    @property
    def pending(self) -> int:
        """How many buckets wait to be written."""
        return len(self._pending) + sum(len(batch.buckets) for batch in self._unsent)

    @property
    def odd_values(self) -> int:
        """Usage values clamped or dropped because they were out of range or not integers."""
        return ODD_VALUES.count - self._odd_before + self._clamped

    def record(self, record: UsageRecord) -> None:
        """Count one call that reached upstream; durable (journalled) when this returns."""
        tokens = record.tokens
        if not (
            0 <= tokens.input <= MAX_TOKENS
            and 0 <= tokens.output <= MAX_TOKENS
            and 0 <= tokens.cached <= MAX_TOKENS
            and 0 <= tokens.reasoning <= MAX_TOKENS
            and 0 <= tokens.cache_write <= MAX_TOKENS
            and 0 <= record.cost_micro_usd <= MAX_COST_MICRO_USD
            and record.latency_ms >= 0
        ):
            record = self._clamp(record)
            tokens = record.tokens
        key = bucket_of(record)
        is_error, estimated, unpriced = (
            int(record.is_error),
            int(record.estimated),
            int(not record.priced),
        )
        if self.journal is not None:
            # One call is a bucket of one request; the counts in COUNTERS order.
            counts = (
                1,
                is_error,
                tokens.input,
                tokens.output,
                tokens.cached,
                record.cost_micro_usd,
                unpriced,
                record.latency_ms,
                tokens.reasoning,
                tokens.cache_write,
                estimated,
            )
            self._append(counts_line(key, counts))
        totals = self._pending.get(key)
        if totals is None:
            totals = self._pending[key] = UsageCounters()
        totals.requests += 1
        totals.error_requests += is_error
        totals.input_tokens += tokens.input
        totals.output_tokens += tokens.output
        totals.cached_tokens += tokens.cached
        totals.reasoning_tokens += tokens.reasoning
        totals.cache_write_tokens += tokens.cache_write
        totals.estimated_requests += estimated
        totals.cost_micro_usd += record.cost_micro_usd
        totals.unpriced_requests += unpriced
        totals.latency_ms_total += record.latency_ms

    def _append(self, line: bytes) -> None:
        assert self.journal is not None
        try:
            self.journal.append(line)
        except OSError:
            # Metering goes on in memory; a full or failing disk must not fail the call.
            if not self._journal_broken:
                logger.exception("could not write the usage journal; calls are not durable")
            self._journal_broken = True
        else:
            self._journal_broken = False

    def _clamp(self, record: UsageRecord) -> UsageRecord:
        self._clamped += 1
        logger.warning(
            "usage of key %s on %s is out of range (tokens %s, cost %d); clamped",
            record.api_key_id,
            record.model,
            record.tokens,
            record.cost_micro_usd,
        )
        tokens = record.tokens

        def fit(value: int, top: int = MAX_TOKENS) -> int:
            return min(max(value, 0), top)

        return replace(
            record,
            tokens=Tokens(
                fit(tokens.input),
                fit(tokens.output),
                fit(tokens.cached),
                fit(tokens.reasoning),
                fit(tokens.cache_write),
            ),
            cost_micro_usd=fit(record.cost_micro_usd, MAX_COST_MICRO_USD),
            latency_ms=max(record.latency_ms, 0),
        )

    # --- flushing ---

    async def flush(self) -> int:
        """Write what is pending (and any batch not yet written); return the buckets written."""
        async with self._lock:  # one flush at a time: the shutdown flush waits for a running one
            written = 0
            while self._unsent:  # earlier batches first, each as it was sealed
                batch = self._unsent[0]
                written += await self._send(batch)
                self._done(batch)
            if not self._pending:
                return written
            batch = self._seal()
            self._unsent.append(batch)
            written += await self._send(batch)
            self._done(batch)
            return written

    def _seal(self) -> _Batch:
        pending, self._pending = self._pending, {}
        if self.journal is None:
            return _Batch(f"{self._name}.{next(self._batch_ids)}", pending)
        segment = self.journal.seal()
        return _Batch(segment.batch_id, pending, segment)

    async def _send(self, batch: _Batch) -> int:
        if not batch.buckets:
            return 0
        dialect = self.db.engine.dialect.name
        async with self.db.session() as session, session.begin():
            if not await claim_batch(session, batch.id, dialect=dialect):
                logger.info("usage batch %s is in the store already; not added twice", batch.id)
                return 0
            pending = list(batch.buckets.items())
            await add_to_buckets(session, pending, dialect=dialect)
            await add_to_days(session, pending, dialect=dialect)
        return len(batch.buckets)

    def _done(self, batch: _Batch) -> None:
        self._unsent.remove(batch)
        if batch.orphan is not None and batch.segment is not None:
            batch.orphan.done(batch.segment)
        elif batch.segment is not None and self.journal is not None:
            self.journal.discard(batch.segment)

    # --- budgets ---

    async def spent(
        self,
        *,
        since: datetime,
        api_key_id: str | None = None,
        project_id: str | None = None,
        organization_id: str | None = None,
    ) -> int:
        """Cost of one key's, project's or organisation's calls since ``since``: stored, and
        still held here (give exactly one of the three).

        Under the flush lock, so no batch moves from here to the store while it is counted;
        a batch whose commit may have succeeded is looked up by its id, so it counts once.
        """
        given = {
            name: value
            for name, value in (
                ("api_key_id", api_key_id),
                ("project_id", project_id),
                ("organization_id", organization_id),
            )
            if value is not None
        }
        if len(given) != 1:
            raise ValueError("spent() counts one key, one project or one organisation")
        ((field, wanted),) = given.items()
        return await self._total("cost_micro_usd", {field: wanted}, since)

    async def requests(self, *, since: datetime, project_id: str, model: str) -> int:
        """Calls of one project to one model (as the call named it) since ``since``: stored,
        and still held here; seeds a per-model requests-per-day limit."""
        return await self._total("requests", {"project_id": project_id, "model": model}, since)

    async def _total(self, measure: str, where: dict[str, str], since: datetime) -> int:
        """Sum of ``measure`` over the rows matching ``where`` since ``since``, counted once."""
        start = int(since.timestamp())
        # A project's or organisation's count over whole days (budget windows and the day of
        # a requests-per-day limit start at midnight) reads the day sums, kept in the same
        # transactions as the rows: a month of a million keys' rows would outlast the store's
        # deadline, and a seed that cannot be read refuses every call.
        table: type[UsageBucket] | type[UsageDay] = UsageBucket
        begins = UsageBucket.bucket_start
        if "api_key_id" not in where and not start % DAY:
            table, begins = UsageDay, UsageDay.day
        query = select(func.coalesce(func.sum(getattr(table, measure)), 0)).where(
            begins >= since, *(getattr(table, name) == value for name, value in where.items())
        )
        async with self._lock:
            ids = [batch.id for batch in self._unsent]
            async with self.db.session() as session:
                stored = int((await session.execute(query)).scalar_one())
                applied: set[str] = set()
                if ids:
                    found = await session.scalars(
                        select(UsageBatch.id).where(UsageBatch.id.in_(ids))
                    )
                    applied = set(found)
            held = 0
            sources = [self._pending, *(b.buckets for b in self._unsent if b.id not in applied)]
            for buckets in sources:
                for key, totals in buckets.items():
                    if key.minute >= start and all(
                        getattr(key, name) == value for name, value in where.items()
                    ):
                        held += getattr(totals, measure)
        return stored + held

    # --- lifecycle ---

    async def open(self) -> None:
        """Open the journal and take in those of processes that are gone; try to write them.

        Runs before the app serves, so budgets seeded later count every journalled call.
        """
        if self.journal is None:
            return
        self.journal.open()
        await self._adopt()
        self._opened.set()
        try:
            await self.flush()
            async with self.db.session() as session, session.begin():
                await forget_old_batches(session, now=datetime.now(UTC))
        except Exception:  # kept, retried by the flusher; the store may come up later
            logger.exception("could not write replayed usage yet; %d buckets kept", self.pending)

    async def recount(self) -> None:
        """Write everything this process holds before another instance seeds a budget.

        That includes the journals of processes that are gone: those it took in at start (a
        recount asked while it was still opening waits for them) and any whose process died
        since, which the periodic adoption would only take in later.
        """
        await self._opened.wait()
        if self.journal is not None:
            await self._adopt()
        await self.flush()

    async def _adopt(self) -> None:
        """Take in the journals of processes that are gone, read in a thread: one can hold
        megabytes (4 MB of lines parse in about 75 ms), which would stall every call."""
        assert self.journal is not None
        async with self._adopting:  # one pass at a time, so none takes a batch twice
            # A journal without its lock (its adopter died deleting it) is found again on
            # every pass until it is written: its batches are held once, or spent() would
            # count them twice.
            held = {batch.id for batch in self._unsent}
            found = await asyncio.to_thread(_orphaned, self.journal, held)
            self._unsent.extend(found)

    def start(self) -> None:
        if self.journal is not None:
            self.journal.start()
        self._task = asyncio.create_task(self._run(), name="usage-meter-flusher")

    async def stop(self) -> None:
        """Stop the background flusher and write everything that is left.

        A flush that fails here leaves the journal behind: the next start replays it.
        """
        # Not a cancel: a flush cut short mid-commit could not tell whether it was written.
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        try:
            await self.flush()
        except Exception:
            where = "the journal, for the next start" if self.journal else "memory, and are lost"
            logger.exception(
                "could not write usage at shutdown; %d buckets stay in %s", self.pending, where
            )
        finally:
            for batch in self._unsent:
                if batch.orphan is not None:
                    batch.orphan.release()
            if self.journal is not None:
                await self.journal.close(empty=not self._pending and not self._unsent)

    async def _run(self) -> None:
        adopted = pruned = time.monotonic()
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            if self.journal is not None and time.monotonic() - adopted >= ADOPT_SECONDS:
                adopted = time.monotonic()
                await self._adopt()
            try:
                await self.flush()
                if time.monotonic() - pruned >= PRUNE_SECONDS:
                    pruned = time.monotonic()
                    async with self.db.session() as session, session.begin():
                        await forget_old_batches(session, now=datetime.now(UTC))
            except (
                Exception
            ):  # keep the data and retry later; a store outage must not stop metering
                logger.exception("could not write usage buckets; %d kept for retry", self.pending)
                self.compact()

    def compact(self) -> None:
        """Rewrite a long open segment as one line per bucket (it holds just ``_pending``)."""
        if self.journal is None or self.journal.size() < self.compact_bytes:
            return
        self.journal.replace_open_segment(
            [bucket_line(key, totals) for key, totals in self._pending.items()]
        )


def _orphaned(journal: Journal, held: set[str]) -> list[_Batch]:
    """The batches of the journals of processes that are gone, but for those ``held``."""
    found = []
    for orphan in journal.orphans():
        if not orphan.segments:
            orphan.release()
            continue
        for segment in orphan.segments:
            if segment.batch_id in held:
                continue
            try:
                buckets = _read(segment)
            except FileNotFoundError:  # a lock-less segment, written and deleted meanwhile
                orphan.done(segment)
                continue
            found.append(_Batch(segment.batch_id, buckets, segment, orphan))
    return found


def _read(segment: Segment) -> dict[BucketKey, UsageCounters]:
    buckets: dict[BucketKey, UsageCounters] = {}
    bad = 0
    for line in read_lines(segment.path):
        parsed = parse_bucket_line(line)
        if parsed is None:
            bad += 1
            continue
        key, totals = parsed
        current = buckets.get(key)
        if current is None:
            buckets[key] = totals
        else:
            current.add(totals)
    if bad:
        logger.warning("usage journal %s: %d unreadable lines skipped", segment.path.name, bad)
    return buckets
