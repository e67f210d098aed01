"""Usage and cost reports: the rows of ``usage_buckets`` summed into aligned buckets.

The shapes follow OpenAI's Administration API; which buckets a page holds, and its cursor,
are ``keyplane.usage.pages``'. Sums are computed by the database, grouped by a bucket index
derived from each row's timestamp, so a report never loads the minute rows themselves.

A report of a bucket width reads the rows of that width and finer ones (minutes, and hours
or days that the roll-up made of older minutes); each lies inside one bucket, so sums are
exact. A daily report neither grouped nor filtered by key or user reads its whole days from
``usage_days`` (the same sums without the key, kept by the meter) and only the part days at
the edges of its range from ``usage_buckets``: over a million keys, a 30-day report by
project reads a row per project, model and day. A page whose range holds rolled-up rows
coarser than its width is refused with a 400 that names the setting and the widths that can
answer it: a silent zero would read as no usage. A row counts where it starts: a range that
starts inside a rolled-up hour or day leaves that hour or day out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    case,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from keyplane.clock import Clock, system_clock
from keyplane.errors import ValidationFailedError
from keyplane.store.database import Database
from keyplane.store.models import ApiKey, UsageBucket, UsageDay
from keyplane.usage.buckets import DAY
from keyplane.usage.counters import COUNTERS, UsageCounters
from keyplane.usage.pages import (
    COST_WIDTHS,
    MAX_RESULTS,
    USAGE_WIDTHS,
    BucketPage,
    ReportRequest,
    foreign_page,
    plan_page,
)
from keyplane.values.kinds import OwnerType

UsageKind = Literal["completions", "embeddings"]

ENDPOINTS: Mapping[UsageKind, tuple[str, ...]] = {
    "completions": ("chat.completions", "completions", "responses", "messages"),
    "embeddings": ("embeddings",),
}
# The counters a report sums; the meter's latency total is not reported.
METRICS = (
    "requests",
    "error_requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_micro_usd",
    "unpriced_requests",
    "reasoning_tokens",
    "cache_write_tokens",
    "estimated_requests",
)
# METRICS are UsageCounters' fields but the latency: a report's counters are built from them
# positionally, the latency 0.
_LATENCY = COUNTERS.index("latency_ms_total")
assert COUNTERS[:_LATENCY] + COUNTERS[_LATENCY + 1 :] == METRICS
# A call's user is the person who owns its key ("" for keys no person owns); the gateway
# makes no batch calls, so ``batch`` is always false.
_USER = func.coalesce(
    select(ApiKey.owner_id)
    .where(ApiKey.id == UsageBucket.api_key_id, ApiKey.owner_type == OwnerType.USER)
    .scalar_subquery(),
    "",
)
_NOT_BATCH = literal("false")
# What a report reads: the minute (and rolled-up) rows, or the day sums without the key.
Source = type[UsageBucket] | type[UsageDay]
Filters = Callable[[Source], list[ColumnElement[bool]]]
_BY_KEY = ("api_key_id", "user_id")  # groups only ``usage_buckets`` can answer
Row = Sequence[Any]  # a group: its grouped values, then its counters (see ``Bucket``)


def _usage_columns(source: Source) -> dict[str, Any]:
    columns: dict[str, Any] = {"project_id": source.project_id}
    if source is UsageBucket:
        columns["api_key_id"] = UsageBucket.api_key_id
    columns |= {"model": source.model, "provider": source.provider}  # provider: the upstream
    if source is UsageBucket:
        columns["user_id"] = _USER
    return columns | {"service_tier": source.service_tier, "batch": _NOT_BATCH}


def _cost_columns(source: Source) -> dict[str, Any]:
    # keyplane's cost line item is the model and the upstream that served it, "gpt-4o
    # (openai)": prices are per model, bills per provider. Rows of no upstream
    # (verifications) name the model.
    line_item = case(
        (source.provider == "", source.model),
        else_=source.model + " (" + source.provider + ")",
    )
    columns = {"project_id": source.project_id, "line_item": line_item, "provider": source.provider}
    if source is UsageBucket:
        columns["api_key_id"] = UsageBucket.api_key_id
    return columns


ColumnsOf = Callable[[Source], Mapping[str, Any]]
USAGE_GROUPS: Mapping[str, Any] = _usage_columns(UsageBucket)
COST_GROUPS: Mapping[str, Any] = _cost_columns(UsageBucket)


@dataclass(frozen=True, slots=True)
class Result:
    """One group of a bucket: the grouped fields (absent when not grouped by) and its sums."""

    group: Mapping[str, str]
    totals: UsageCounters


@dataclass(frozen=True, slots=True)
class Bucket:
    """A bucket's groups as the database summed them: per group its grouped values (in the
    order of ``groups``), then its counters in ``COUNTERS`` order.

    Rows, not ``Result`` objects: a page by key holds tens of thousands of groups, and an
    object per group cost more than the database's sums (docs/benchmarks.md, "Scale").
    """

    start_time: int
    end_time: int
    groups: Sequence[str] = ()
    rows: Sequence[Row] = ()

    @property
    def results(self) -> list[Result]:
        named = len(self.groups)
        return [
            Result(dict(zip(self.groups, row[:named], strict=True)), UsageCounters(*row[named:]))
            for row in self.rows
        ]


@dataclass(frozen=True, slots=True)
class Report:
    buckets: list[Bucket]
    has_more: bool
    next_page: str | None


class UsageReports:
    """Reads ``usage_buckets`` into OpenAI-shaped usage and cost reports."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock = system_clock,
        max_results: int = MAX_RESULTS,
    ) -> None:
        self.db = database
        self.clock = clock
        self.max_results = max_results

    async def usage(
        self, *, organization_id: str, kind: UsageKind, request: ReportRequest
    ) -> Report:
        """Completions or embeddings usage, grouped by project, key, model and/or provider."""
        page = plan_page(request, USAGE_WIDTHS, now=self._now())
        groups = _groups(request.group_by, USAGE_GROUPS)

        def filters(source: Source) -> list[ColumnElement[bool]]:
            found: list[ColumnElement[bool]] = [source.endpoint.in_(ENDPOINTS[kind])]
            found += _in(source.project_id, request.project_ids)
            found += _in(source.model, request.models)
            if source is UsageBucket:
                found += _in(UsageBucket.api_key_id, request.api_key_ids)
                found += _by_users(request.user_ids)
            if request.batch:
                found.append(false())
            return found

        by_key = bool(request.api_key_ids or request.user_ids)
        return await self._report(organization_id, page, groups, _usage_columns, filters, by_key)

    async def costs(self, *, organization_id: str, request: ReportRequest) -> Report:
        """Daily cost of every endpoint, grouped by project and/or line item (model)."""
        page = plan_page(request, COST_WIDTHS, now=self._now())
        groups = _groups(request.group_by, COST_GROUPS)

        def filters(source: Source) -> list[ColumnElement[bool]]:
            found = _in(source.project_id, request.project_ids)
            if source is UsageBucket:
                found += _in(UsageBucket.api_key_id, request.api_key_ids)
            return found

        by_key = bool(request.api_key_ids)
        return await self._report(organization_id, page, groups, _cost_columns, filters, by_key)

    def _now(self) -> int:
        return int(self.clock().timestamp())

    async def _report(
        self,
        organization_id: str,
        page: BucketPage,
        groups: list[str],
        columns: ColumnsOf,
        filters: Filters,
        by_key: bool,
    ) -> Report:
        if page.after and len(page.after) != len(groups):
            raise foreign_page()
        await self._refuse_rolled_up(organization_id, page)
        now = self._now()
        grouped_by_key = any(g in _BY_KEY for g in groups)
        day_sums = not (by_key or grouped_by_key)
        rows: dict[int, list[Row]] = {}
        held = 0
        # A report grouped by key has a group per key and bucket: it reads one bucket, then
        # as many more as the room left is expected to hold (at most twice as many), so that
        # a page over a million keys reads the days it can hold, not the whole range.
        read, size = 0, 1 if grouped_by_key else page.count
        while read < page.count:
            count = min(size, page.count - read)
            chunk = dataclasses.replace(
                page,
                first=page.first + read * page.width,
                count=count,
                after=page.after if read == 0 else (),
            )
            parts = _parts(chunk, now=now, day_sums=day_sums)
            room = self.max_results - held
            found = await self._aggregate(
                organization_id, chunk, parts, groups, columns, filters, limit=room + 1
            )
            rows.update({read + index: each for index, each in found.items()})
            held += sum(map(len, found.values()))
            if held > self.max_results:
                page = _cut(page, rows, self.max_results, len(groups))
                break
            read += count
            fits = (self.max_results - held) * read // held if held else 2 * size
            if fits < 1 and read < page.count:  # the next bucket is not expected to fit
                page = dataclasses.replace(page, count=read, has_more=True)
                break
            size = min(2 * size, fits)
        buckets = [
            Bucket(start, start + page.width, groups, rows.get(i, ()))
            for i, start in enumerate(page.bucket_starts)
        ]
        return Report(buckets=buckets, has_more=page.has_more, next_page=page.next_page)

    async def _refuse_rolled_up(self, organization_id: str, page: BucketPage) -> None:
        """A 400 when rows coarser than the page's width start in its range.

        Their sums cannot be split into the page's buckets; a silent zero would read as no
        usage. Rows that are still fine enough answer, however old.
        """
        low, high = page.data_range
        if page.count == 0 or low >= high or page.width >= max(_WIDTH_NAMES):
            return
        newest = (
            select(UsageBucket.bucket_start, UsageBucket.width)
            .where(
                UsageBucket.organization_id == organization_id,
                UsageBucket.bucket_start >= _moment(low),
                UsageBucket.bucket_start < _moment(high),
                UsageBucket.width > page.width,
            )
            .order_by(UsageBucket.bucket_start.desc())
            .limit(1)
        )
        async with self.db.session() as session:
            found = (await session.execute(newest)).first()
        if found is not None:
            start, width = found
            raise _refusal(page, width, int(start.timestamp()) + width)

    async def _aggregate(
        self,
        organization_id: str,
        page: BucketPage,
        parts: list[tuple[Source, int, int]],
        groups: list[str],
        columns: ColumnsOf,
        filters: Filters,
        *,
        limit: int,
    ) -> dict[int, list[Row]]:
        """Sums per bucket index and group over ``parts``, computed by the database; the
        first ``limit`` of them in bucket and group order."""
        if page.count == 0 or not parts:
            return {}
        selects = []
        for source, low, high in parts:
            start = UsageBucket.bucket_start if source is UsageBucket else UsageDay.day
            of = columns(source)
            where = filters(source)
            if source is UsageBucket:
                where.append(UsageBucket.width <= page.width)
            index = (EpochSeconds(start) - page.first) // page.width
            selects.append(
                select(
                    index.label("bucket"),
                    *(of[g].label(g) for g in groups),
                    *(getattr(source, m).label(m) for m in METRICS),
                ).where(
                    source.organization_id == organization_id,
                    start >= _moment(low),
                    start < _moment(high),
                    *where,
                )
            )
        rows = (union_all(*selects) if len(selects) > 1 else selects[0]).subquery()
        # Grouping over a subquery's column keeps one expression: PostgreSQL would not match
        # the same arithmetic with separately bound parameters in SELECT and GROUP BY.
        keys = [rows.c.bucket, *(rows.c[g] for g in groups)]
        # Sums as BIGINT: PostgreSQL's SUM of a BIGINT is a NUMERIC, which the driver reads
        # as a Decimal, a third of the time of a 100,000-group page. The latency, which no
        # report shows, is a 0 in its place, so that a row's counters are ``COUNTERS``.
        sums: list[Any] = [func.sum(rows.c[m]).cast(BigInteger) for m in METRICS]
        sums.insert(_LATENCY, literal(0, BigInteger))
        query = select(*keys, *sums)
        if page.after:  # the first bucket's groups up to ``after`` were on the page before
            # A filter of the rows, not of the groups, as a group's rows share its values:
            # the database sums only what is left of the bucket.
            named = keys[1:]
            later = named[0] > page.after[0] if len(named) == 1 else tuple_(*named) > page.after
            query = query.where(or_(rows.c.bucket > 0, later))
        query = query.group_by(*keys).order_by(*keys).limit(limit)
        found: dict[int, list[Row]] = {}
        async with self.db.engine.connect() as connection:  # rows as tuples, not ORM results
            for row in await connection.execute(query):
                found.setdefault(row[0], []).append(row[1:])
        return found


def _cut(page: BucketPage, rows: dict[int, list[Row]], most: int, named: int) -> BucketPage:
    """``page`` ended where it holds ``most`` groups (see ``MAX_RESULTS``): before the bucket
    its rows were cut in, or, when that is its first, inside it, after its last whole group."""
    last = max(rows)  # the bucket the LIMIT cut, or the one past the most
    if last > 0:
        return dataclasses.replace(page, count=last, has_more=True)
    del rows[0][most:]
    split = tuple(str(value) for value in rows[0][-1][:named])
    return dataclasses.replace(page, count=1, has_more=True, split=split)


def _parts(page: BucketPage, *, now: int, day_sums: bool) -> list[tuple[Source, int, int]]:
    """Where the rows of ``page`` are read: (source, from, until), in Unix seconds.

    With ``day_sums``, a daily page reads its whole days from ``usage_days`` and the part
    days at either end of its range (a ``start_time`` or ``end_time`` inside a day) from
    ``usage_buckets``. A range that reaches the present takes today whole: nothing has been
    used after now.
    """
    low, high = page.data_range
    if low >= high:
        return []
    if not day_sums or page.width != DAY:
        return [(UsageBucket, low, high)]
    first = -(-low // DAY) * DAY
    last = -(-high // DAY) * DAY if high >= now else high - high % DAY
    if first >= last:
        return [(UsageBucket, low, high)]
    parts: list[tuple[Source, int, int]] = [
        (UsageBucket, low, first),
        (UsageDay, first, last),
        (UsageBucket, last, high),
    ]
    return [(source, a, b) for source, a, b in parts if a < b]


class EpochSeconds(FunctionElement[int]):
    """Unix seconds of a naive-UTC timestamp column, written for each dialect."""

    type = BigInteger()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(EpochSeconds)
def _epoch_sqlite(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite stores the timestamp as ISO text read as UTC. julianday() parses it three times
    # faster than strftime('%s'); rounding absorbs the float's error (about 50 µs here).
    days = f"julianday({compiler.process(element.clauses, **kw)}) - 2440587.5"
    return f"CAST(ROUND(({days}) * 86400) AS INTEGER)"


@compiles(EpochSeconds, "postgresql")
def _epoch_postgresql(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # For a timestamp without time zone, the epoch counts as if it were UTC. date_part's
    # double, exact for whole seconds, not EXTRACT's NUMERIC: a 30-day report by key over
    # 45,000 groups took 15 % less (docs/benchmarks.md, "Scale").
    return f"CAST(date_part('epoch', {compiler.process(element.clauses, **kw)}) AS BIGINT)"


_WIDTH_NAMES = {60: "1m", 3600: "1h", DAY: "1d"}
_ROLLED_AFTER = {
    3600: "KEYPLANE_USAGE_MINUTE_RETENTION_DAYS",
    86400: "KEYPLANE_USAGE_HOUR_RETENTION_DAYS",
}


def _refusal(page: BucketPage, width: int, end: int) -> ValidationFailedError:
    """The 400 for a page that reaches into usage kept only at ``width``, until ``end``."""
    coarser = " or ".join(n for w, n in _WIDTH_NAMES.items() if w >= width)
    tier = "hour" if width == 3600 else "day"
    return ValidationFailedError(
        f"usage before {datetime.fromtimestamp(end, UTC).isoformat()} is kept by the {tier} "
        f"(rolled up after {_ROLLED_AFTER[width]}); ask for bucket_width={coarser}, or start "
        f"at {end} or later.",
        param="bucket_width" if page.width < width else "start_time",
    )


def _groups(requested: Sequence[str], columns: Mapping[str, Any]) -> list[str]:
    groups: list[str] = []
    for name in requested:
        if name not in columns:
            allowed = ", ".join(columns)
            raise ValidationFailedError(
                f"Cannot group by '{name}'; group_by accepts {allowed}.", param="group_by"
            )
        if name not in groups:
            groups.append(name)
    return groups


def _in(column: Any, values: Sequence[str]) -> list[ColumnElement[bool]]:
    return [column.in_(list(values))] if values else []


def _by_users(user_ids: Sequence[str]) -> list[ColumnElement[bool]]:
    """Calls made with keys the given people own."""
    if not user_ids:
        return []
    owned = select(ApiKey.id).where(
        ApiKey.owner_type == OwnerType.USER, ApiKey.owner_id.in_(list(user_ids))
    )
    return [UsageBucket.api_key_id.in_(owned)]


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
