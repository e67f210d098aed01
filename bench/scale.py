"""keyplane at scale: a million keys and fifty million usage rows, beside 10k keys and 1M rows.

    .venv/bin/python bench/scale.py [--large-keys 1000000 --large-rows 50000000]
                                    [--small-keys 10000 --small-rows 1000000] [--seconds 5]
                                    [--rounds 3] [--keep | --reuse]

For each size, in one run, a fresh database on the PostgreSQL server (``--postgres``, the
tests' server by default) gets the schema from the migrations, an organisation from
keyplane's own bootstrap, then projects, keys (real keys: random part, checksum, SHA-256)
and a year of minute usage rows written straight in with ``COPY``, indexes built after the
load as a bulk load would. Then, against that database:

- key verification as the gateway resolves keys (``KeyCache``): p50/p99 on a cache miss
  (each key seen for the first time) and warm (the same keys again), in this process; the
  misses twice, first with the store's pages where the load left them (cold), then again;
- ``POST /v1/keys/verify`` (no cache: a store lookup each time) p50/p99, in this process;
- gateway CPU per proxied call: ``keyplane serve`` on that database in front of the
  stand-in upstream, one key, wrk at 32 connections; utime+stime of the server from /proc;
  the sizes in turn, the median of ``--rounds`` each;
- 30-day usage reports, 1-day buckets, as the admin API's ``/v1/organization/usage/
  completions`` computes them (the report service, in this process): the organisation's
  grouped by project and by key, and one project's and one key's grouped by model (the
  dashboard's Usage page, filtered);
- the first and a deep page (20 keys) of a project with 10k keys, as the admin API lists them.

The large figures are printed beside the small ones with their ratio and the targets of
issue #17 (verification and gateway within 1.2x; report < 300 ms; key list < 100 ms).
Usage rows are spread evenly over the 365 days of minutes before now: four in five from the
busy keys (1 % of the keys, at least 100) on two models, the fifth walking through every key
on a third; then rolled up as keyplane's defaults keep them (minutes for 2 days, hours for 14,
days beyond), keyplane's own ``RollUp`` timed on the first 100,000 minutes. Not a test: it
gates nothing. The databases are dropped at the end unless ``--keep``; ``--reuse`` measures
the databases such a run kept (migrating them first, timed) without loading them again. A
large run needs about 25 GB of disk and takes about 40 minutes on two cores;
``--large-keys 100000 --large-rows 5000000`` is a quick one.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import asyncpg
import httpx

from keyplane.api.routes.usage import page_json
from keyplane.auth.cache import KeyCache
from keyplane.config import Settings
from keyplane.keys.format import generate_key
from keyplane.keys.secrets import hash_key, redact
from keyplane.runtime.runtime import Runtime
from keyplane.services.bootstrap import bootstrap
from keyplane.store.database import Database
from keyplane.store.migrate import upgrade_to_head
from keyplane.usage.buckets import DAY
from keyplane.usage.pages import ReportRequest
from keyplane.usage.reports import Report
from keyplane.usage.rollup import HOUR, Retention, RollUp, aligned
from keyplane.values.kinds import KeyKind

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gateway_overhead import UPSTREAM_KEY, cpu_seconds, free_port, wrk  # noqa: E402

from keyplane.testing import start_upstream_process  # noqa: E402

ADMIN_DSN = os.environ.get("KEYPLANE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BIG_PROJECT_KEYS = 10_000
OTHER_PROJECTS = 99
SAMPLE_KEYS = 2_000  # plaintexts kept for verification
MODELS = ("gpt-4o", "gpt-4o-mini", "o3")
YEAR_MINUTES = 365 * 24 * 60


@dataclass(frozen=True)
class Size:
    label: str
    keys: int
    rows: int

    @property
    def database(self) -> str:
        return f"keyplane_scale_{self.label}"


@dataclass
class Loaded:
    url: str
    organization_id: str
    big_project_id: str
    samples: list[str]  # plaintext keys, all in the big project
    load_seconds: float
    fold_rows_per_second: float = 0.0


def _dsn_of(database: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + database


async def _fresh_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _drop_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _key_rows(
    size: Size, organization_id: str, projects: list[str], now: datetime, samples: list[str]
) -> Iterator[tuple[tuple[object, ...], tuple[object, ...]]]:
    """(api_keys row, api_key_secrets row) per key; the first keys go to the big project."""
    sample_every = max(1, BIG_PROJECT_KEYS // SAMPLE_KEYS)
    for index in range(size.keys):
        project = _project_of(index, projects)
        plaintext = generate_key(KeyKind.PROJECT)
        if index < BIG_PROJECT_KEYS and index % sample_every == 0:
            samples.append(plaintext)
        key_id = f"key_scale{index:010d}"
        created = now - timedelta(seconds=size.keys - index)
        shown = redact(plaintext)
        key = (
            key_id, organization_id, project, "proj", f"key {index}", shown, "user", None, None,
            "all", "[]", "[]", "[]", "{}", True, created, None, None, None, None, None, None, None,
        )  # fmt: skip
        secret = (f"sec_scale{index:010d}", key_id, hash_key(plaintext), shown, None, created, None)
        yield key, secret


KEY_COLUMNS = (
    "id", "organization_id", "project_id", "kind", "name", "redacted_value", "owner_type",
    "owner_id", "created_by", "permissions_mode", "scopes", "allowed_models", "allowed_ips",
    "metadata", "enabled", "created_at", "last_used_at", "expires_at", "revoked_at",
    "revoked_reason", "leaked_url", "rate_limits", "budget",
)  # fmt: skip
SECRET_COLUMNS = (
    "id", "api_key_id", "hash", "redacted_value", "rotated_from_id", "created_at", "expires_at",
)  # fmt: skip
USAGE_COLUMNS = (
    "bucket_start", "width", "organization_id", "project_id", "api_key_id", "model", "endpoint",
    "provider", "service_tier", "requests", "error_requests", "input_tokens", "output_tokens",
    "cached_tokens", "cost_micro_usd", "unpriced_requests", "latency_ms_total",
    "reasoning_tokens", "cache_write_tokens", "estimated_requests",
)  # fmt: skip


def _project_of(index: int, projects: list[str]) -> str:
    """The first keys are the big project's; the others spread over the rest."""
    if index < BIG_PROJECT_KEYS:
        return projects[0]
    return projects[1 + index % (len(projects) - 1)]


def _usage_rows(
    size: Size, organization_id: str, projects: list[str], end: datetime
) -> Iterator[tuple[object, ...]]:
    """``size.rows`` minute rows over the year before ``end``.

    As usage is: four rows in five come from the busy keys (one key in a hundred, at least
    100), on two models; the fifth walks through every key on a third model. Keys are
    distinct within a minute and model, as the meter's rows are.
    """
    busy = max(100, size.keys // 100)
    first = end.replace(second=0, microsecond=0) - timedelta(minutes=YEAR_MINUTES)
    minute = timedelta(minutes=1)
    for m in range(YEAR_MINUTES):
        start = (first + m * minute).replace(tzinfo=None)
        # Rows spread evenly over the minutes of the year, however many there are.
        for j in range((m + 1) * size.rows // YEAR_MINUTES - m * size.rows // YEAR_MINUTES):
            if j % 5:
                index, model = (m * 7 + j) % busy, MODELS[j % 2]
            else:
                index, model = (m * size.rows // YEAR_MINUTES + j) % size.keys, MODELS[2]
            yield (
                start, 60, organization_id, _project_of(index, projects),
                f"key_scale{index:010d}", model, "chat.completions", "openai", "", 2, 0, 1200,
                300, 200, 900, 0, 800, 0, 0, 0,
            )  # fmt: skip


async def _copy(
    connection: asyncpg.Connection,
    table: str,
    columns: tuple[str, ...],
    rows: Iterator[tuple[object, ...]],
) -> None:
    chunk: list[tuple[object, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == 100_000:
            await connection.copy_records_to_table(table, records=chunk, columns=columns)
            chunk = []
    if chunk:
        await connection.copy_records_to_table(table, records=chunk, columns=columns)


async def load(size: Size) -> Loaded:
    started = time.perf_counter()
    await _fresh_database(size.database)
    url = _dsn_of(size.database).replace("postgresql://", "postgresql+asyncpg://", 1)
    database = Database(url)
    try:
        await upgrade_to_head(database)
        boot = await bootstrap(database, brand="kp")
    finally:
        await database.close()
    organization_id = boot.organization_id
    now = datetime.now(UTC)
    connection = await asyncpg.connect(_dsn_of(size.database))
    try:
        projects = [f"proj_scale{i:04d}" for i in range(1 + OTHER_PROJECTS)]
        await connection.copy_records_to_table(
            "projects",
            records=[
                (p, organization_id, f"scale {i}", "active", now.replace(tzinfo=None))
                for i, p in enumerate(projects)
            ],
            columns=("id", "organization_id", "name", "status", "created_at"),
        )
        samples: list[str] = []
        keys: list[tuple[object, ...]] = []
        secrets: list[tuple[object, ...]] = []
        for key, secret in _key_rows(size, organization_id, projects, now, samples):
            keys.append(
                tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in key)
            )
            secrets.append(
                tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in secret)
            )
        await _copy(connection, "api_keys", KEY_COLUMNS, iter(keys))
        await _copy(connection, "api_key_secrets", SECRET_COLUMNS, iter(secrets))
        del keys, secrets
        # A bulk load: the usage table's indexes are built after the rows are in.
        await connection.execute(
            "ALTER TABLE usage_buckets DROP CONSTRAINT uq_usage_buckets_row;"
            "DROP INDEX ix_usage_org_start; DROP INDEX ix_usage_project_start;"
            "DROP INDEX ix_usage_key_start; DROP INDEX ix_usage_width_start;"
        )
        await _copy(
            connection,
            "usage_buckets",
            USAGE_COLUMNS,
            _usage_rows(size, organization_id, projects, now),
        )
        await connection.execute(
            "ALTER TABLE usage_buckets ADD CONSTRAINT uq_usage_buckets_row UNIQUE "
            "(bucket_start, width, api_key_id, model, endpoint, provider, service_tier);"
            "CREATE INDEX ix_usage_org_start ON usage_buckets (organization_id, bucket_start);"
            "CREATE INDEX ix_usage_project_start ON usage_buckets (project_id, bucket_start);"
            "CREATE INDEX ix_usage_key_start ON usage_buckets (api_key_id, bucket_start);"
            "CREATE INDEX ix_usage_width_start ON usage_buckets (width, bucket_start);"
            "ANALYZE;"
        )
        fold_rate = await _roll_up(connection, url, now)
    finally:
        await connection.close()
    loaded = Loaded(url, organization_id, projects[0], samples, time.perf_counter() - started)
    loaded.fold_rows_per_second = fold_rate
    return loaded


_COUNTER_SUMS = ", ".join(
    f"SUM({name})" for name in USAGE_COLUMNS[USAGE_COLUMNS.index("requests") :]
)
_GROUPED = "organization_id, project_id, api_key_id, model, endpoint, provider, service_tier"
_DAY_GROUPED = "organization_id, project_id, model, endpoint, provider, service_tier"


async def _roll_up(connection: asyncpg.Connection, url: str, now: datetime) -> float:
    """Bring the year of minutes to the state keyplane's roll-up keeps; its rate in rows/s.

    keyplane's own ``RollUp`` folds the first 100,000 due minutes (timed: that is the rate
    printed); the rest is folded by the same arithmetic in two SQL statements per tier, which
    leaves the rows ``RollUp`` would leave (same widths, starts and sums) in minutes, not hours.
    """
    retention = Retention()
    hours_from = aligned(now - retention.minutes, HOUR)
    days_from = aligned(now - retention.hours, DAY)
    database = Database(url)
    try:
        rollup = RollUp(database, retention=retention, batch_rows=2000)
        started, folded = time.perf_counter(), 0
        while folded < 100_000 and (batch := await rollup.fold(60, HOUR, before=hours_from)):
            folded += batch
        rate = folded / (time.perf_counter() - started)
    finally:
        await database.close()
    columns = ", ".join(USAGE_COLUMNS)
    for fine, coarse, unit, before in (
        (60, HOUR, "hour", hours_from),
        (HOUR, DAY, "day", days_from),
    ):
        cutoff = before.replace(tzinfo=None)
        await connection.execute(
            f"INSERT INTO usage_buckets ({columns}) "  # noqa: S608
            f"SELECT date_trunc('{unit}', bucket_start), {coarse}, {_GROUPED}, {_COUNTER_SUMS} "
            f"FROM usage_buckets WHERE width = {fine} AND bucket_start < $1 "
            f"GROUP BY date_trunc('{unit}', bucket_start), {_GROUPED} "
            f"ON CONFLICT (bucket_start, width, api_key_id, model, endpoint, provider, "
            f"service_tier) DO UPDATE SET "
            + ", ".join(
                f"{n} = usage_buckets.{n} + excluded.{n}"
                for n in USAGE_COLUMNS[USAGE_COLUMNS.index("requests") :]
            ),
            cutoff,
        )
        await connection.execute(
            f"DELETE FROM usage_buckets WHERE width = {fine} AND bucket_start < $1",  # noqa: S608
            cutoff,
        )
    # The day sums the meter keeps beside the rows (usage_days), summed from them in one
    # statement as a bulk load would, as migration 0006 does for usage written before it.
    day_columns = ", ".join(USAGE_COLUMNS[USAGE_COLUMNS.index("requests") :])
    await connection.execute(
        f"INSERT INTO usage_days (day, {_DAY_GROUPED}, {day_columns}) "  # noqa: S608
        f"SELECT date_trunc('day', bucket_start), {_DAY_GROUPED}, {_COUNTER_SUMS} "
        f"FROM usage_buckets GROUP BY date_trunc('day', bucket_start), {_DAY_GROUPED}; "
        "ANALYZE usage_days"
    )
    # Folding a year at once leaves the table's file at its 50M-row size, nine tenths dead
    # space that a seq scan reads (579 MB for 580k rows at the small size); keyplane's roll-up,
    # folding as minutes come due, keeps reusing that space instead. VACUUM FULL gives the
    # table the size it has in that steady state.
    await connection.execute("VACUUM FULL ANALYZE usage_buckets")
    return rate


async def reuse(size: Size) -> Loaded:
    """A database a run with ``--keep`` loaded: migrated to this revision (timed), with new
    secrets for the sample keys (a kept database holds only their hashes)."""
    url = _dsn_of(size.database).replace("postgresql://", "postgresql+asyncpg://", 1)
    database = Database(url)
    started = time.perf_counter()
    try:
        await upgrade_to_head(database)
    finally:
        await database.close()
    migrated = time.perf_counter() - started
    connection = await asyncpg.connect(_dsn_of(size.database))
    try:
        organization_id = await connection.fetchval("SELECT id FROM organizations LIMIT 1")
        every = max(1, BIG_PROJECT_KEYS // SAMPLE_KEYS)
        samples = [generate_key(KeyKind.PROJECT) for _ in range(0, BIG_PROJECT_KEYS, every)]
        await connection.executemany(
            "UPDATE api_key_secrets SET hash = $1, redacted_value = $2 WHERE api_key_id = $3",
            [
                (hash_key(plaintext), redact(plaintext), f"key_scale{index:010d}")
                for index, plaintext in zip(range(0, BIG_PROJECT_KEYS, every), samples, strict=True)
            ],
        )
    finally:
        await connection.close()
    return Loaded(url, organization_id, "proj_scale0000", samples, migrated)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


async def _timed_each(calls: list[Callable[[], Awaitable[object]]]) -> list[float]:
    """Milliseconds of each call, one after another."""
    out = []
    for call in calls:
        started = time.perf_counter()
        await call()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def _best_of(call: Callable[[], Awaitable[object]], times: int = 5) -> float:
    return min(await _timed_each([call] * times))


async def measure_in_process(loaded: Loaded) -> dict[str, float]:
    """Everything but the gateway, through the services of keyplane's composition root."""
    with tempfile.TemporaryDirectory(prefix="kp-scale-") as workdir:
        # Reports are timed however long they take: at the default 2 s statement deadline a
        # slow one would be a 503, not a figure.
        settings = Settings(
            database_url=loaded.url, data_dir=Path(workdir), store_statement_timeout_seconds=120
        )
        runtime = Runtime.build(settings)
        try:
            return await _measure(runtime, loaded)
        finally:
            await runtime.database.close()


async def _measure(runtime: Runtime, loaded: Loaded) -> dict[str, float]:
    # The gateway's cache keeps a key for at most a second: each key is resolved twice in a
    # row, the first time from the store (a miss), the second from memory (warm). The first
    # pass finds the store's pages where the load left them (after a bulk load, on disk: the
    # disk's figure, not keyplane's); a second pass, with a new cache, misses keyplane's
    # cache with the store's pages in memory, as a store serving its keys has them.
    now = datetime.now(UTC)
    cold: list[float] = []
    miss: list[float] = []
    hot: list[float] = []
    for misses, hits in ((cold, []), (miss, hot)):
        cache = KeyCache(runtime.database, brand="kp", max_entries=10 * SAMPLE_KEYS)
        for key in loaded.samples:
            first, second = await _timed_each([partial(cache.resolve, key, now=now)] * 2)
            misses.append(first)
            hits.append(second)
    org = loaded.organization_id
    verify = await _timed_each(
        [
            partial(runtime.verification.verify, organization_id=org, presented=k)
            for k in loaded.samples
        ]
    )
    start = int(time.time()) // 86400 * 86400 - 29 * 86400

    def request_of(
        group: str, project_ids: Sequence[str] = (), api_key_ids: Sequence[str] = ()
    ) -> ReportRequest:
        return ReportRequest(
            start_time=start,
            bucket_width="1d",
            group_by=[group],
            limit=30,
            project_ids=project_ids,
            api_key_ids=api_key_ids,
        )

    async def page(request: ReportRequest) -> tuple[Report, bytes]:
        """A page as the admin API answers it: the report, then its JSON."""
        found = await runtime.reports.usage(
            organization_id=org, kind="completions", request=request
        )
        return found, page_json(found, "completions")

    def report(
        group: str, project_ids: Sequence[str] = (), api_key_ids: Sequence[str] = ()
    ) -> Callable[[], Awaitable[object]]:
        return partial(page, request_of(group, project_ids, api_key_ids))

    async def every_page(group: str) -> int:
        """Every page of the 30 days, following ``next_page``; how many."""
        request, pages = request_of(group), 0
        while True:
            found, _ = await page(request)
            pages += 1
            if found.next_page is None:
                return pages
            request = dataclasses.replace(request, page=found.next_page)

    busy_key = "key_scale0000000000"  # the busiest key, in the big project

    listing = partial(runtime.keys.list, organization_id=org, project_id=loaded.big_project_id)
    # A cursor half-way down the project's keys, as a client paging through them reaches it.
    after = f"key_scale{BIG_PROJECT_KEYS // 2:010d}"
    cold_p50, cold_p99 = _percentiles(cold)
    by_key, body = await page(request_of("api_key_id"))
    groups = sum(len(b.rows) for b in by_key.buckets)
    started = time.perf_counter()
    pages = await every_page("api_key_id")
    every_ms = (time.perf_counter() - started) * 1000
    print(
        f"  the first page by key holds {len(by_key.buckets)} of 30 buckets, {groups:,} groups,"
        f" {len(body) / 1e6:.1f} MB of JSON; the 30 days are {pages} pages, {every_ms:,.0f} ms",
        flush=True,
    )
    miss_p50, miss_p99 = _percentiles(miss)
    warm_p50, warm_p99 = _percentiles(hot)
    verify_p50, verify_p99 = _percentiles(verify)
    return {
        "cold_p50": cold_p50, "cold_p99": cold_p99,
        "miss_p50": miss_p50, "miss_p99": miss_p99, "warm_p50": warm_p50, "warm_p99": warm_p99,
        "verify_p50": verify_p50, "verify_p99": verify_p99,
        "report_by_project_ms": await _best_of(report("project_id")),
        "report_by_key_ms": await _best_of(report("api_key_id")),
        "report_by_key_all_ms": every_ms,
        "report_one_project_ms": await _best_of(
            report("model", project_ids=[loaded.big_project_id])
        ),
        "report_one_key_ms": await _best_of(report("model", api_key_ids=[busy_key])),
        "list_first_ms": await _best_of(listing),
        "list_deep_ms": await _best_of(partial(listing, after=after)),
    }  # fmt: skip


def gateway_cpu_us(loaded: Loaded, seconds: float) -> float:
    """CPU per proxied call of ``keyplane serve`` on this database, one key, 32 connections."""
    port = free_port()
    with (
        start_upstream_process(api_key=UPSTREAM_KEY) as upstream,
        tempfile.TemporaryDirectory(prefix="kp-scale-") as workdir,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYPLANE_")}
        env |= {
            "KEYPLANE_DATA_DIR": str(Path(workdir) / "data"),
            "KEYPLANE_DATABASE_URL": loaded.url,
            "KEYPLANE_UPSTREAM_BASE_URL": upstream.base_url,
            "KEYPLANE_UPSTREAM_API_KEY": UPSTREAM_KEY,
            "KEYPLANE_LOG_LEVEL": "warning",
            "KEYPLANE_PORT": str(port),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "keyplane", "serve"],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.05)
            key = loaded.samples[0]
            wrk(f"{url}/v1", "json", connections=8, duration=1, key=key)  # warm up
            before = cpu_seconds(server.pid)
            result = wrk(f"{url}/v1", "json", connections=32, duration=seconds, key=key)
            spent = cpu_seconds(server.pid) - before
            if result.errors:
                raise SystemExit(f"{result.errors} gateway calls failed; the figure would lie")
            return float(spent / result.requests * 1e6)
        finally:
            server.terminate()
            server.wait(timeout=30)


# None: the target is a ratio of 1.2 at most from small to large; else an upper bound.
TARGETS: dict[str, tuple[str, float | None]] = {
    "cold_p50": ("verification, miss, store pages cold p50 (ms)", None),
    "cold_p99": ("verification, miss, store pages cold p99 (ms)", None),
    "miss_p50": ("verification, cache miss p50 (ms)", None),
    "miss_p99": ("verification, cache miss p99 (ms)", None),
    "warm_p50": ("verification, warm p50 (ms)", None),
    "warm_p99": ("verification, warm p99 (ms)", None),
    "verify_p50": ("verify service (POST /v1/keys/verify) p50 (ms)", None),
    "verify_p99": ("verify service (POST /v1/keys/verify) p99 (ms)", None),
    "gateway_cpu_us": ("gateway CPU per call (µs)", None),
    "report_by_project_ms": ("30-day usage report by project (ms)", 300.0),
    "report_by_key_ms": ("30-day usage report by key, a page (ms)", 300.0),
    "report_by_key_all_ms": ("... all its pages, one after another (ms)", None),
    "report_one_project_ms": ("30-day report of one project, by model (ms)", 300.0),
    "report_one_key_ms": ("30-day report of one key, by model (ms)", 300.0),
    "list_first_ms": ("key list, first page of 10k (ms)", 100.0),
    "list_deep_ms": ("key list, a page half-way down (ms)", 100.0),
}


# A 30-day report by key over a million keys is tens of pages: their sum grows with the keys.
UNTARGETED = {"report_by_key_all_ms"}


def report(small: Size, large: Size, figures: dict[str, dict[str, float]]) -> None:
    print(f"\n{'':46} {small.label:>12} {large.label:>12} {'ratio':>7}  target")
    print(f"{'':46} {f'{small.keys:,} keys':>12} {f'{large.keys:,} keys':>12}")
    print(f"{'':46} {f'{small.rows:,} rows':>12} {f'{large.rows:,} rows':>12}")
    for name, (label, target) in TARGETS.items():
        a, b = figures[small.label][name], figures[large.label][name]
        ratio = b / a if a else float("inf")
        if name in UNTARGETED:
            goal = "(grows with the answer)"
        elif target is None:
            goal = f"<= 1.2x  {'met' if ratio <= 1.2 else 'MISSED'}"
        else:
            goal = f"< {target:g}  {'met' if b < target else 'MISSED'}"
        print(f"{label:46} {a:12.3f} {b:12.3f} {ratio:6.2f}x  {goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-keys", type=int, default=10_000)
    parser.add_argument("--small-rows", type=int, default=1_000_000)
    parser.add_argument("--large-keys", type=int, default=1_000_000)
    parser.add_argument("--large-rows", type=int, default=50_000_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk run per size and round")
    parser.add_argument("--rounds", type=int, default=3, help="gateway rounds per size")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the databases a run with --keep left"
    )
    args = parser.parse_args()
    sizes = [
        Size("small", args.small_keys, args.small_rows),
        Size("large", args.large_keys, args.large_rows),
    ]
    for size in sizes:
        if size.keys < BIG_PROJECT_KEYS:
            raise SystemExit(f"--{size.label}-keys must be at least {BIG_PROJECT_KEYS}")
    figures: dict[str, dict[str, float]] = {}
    loads: dict[str, Loaded] = {}
    try:
        for size in sizes:
            if args.reuse:
                loaded = asyncio.run(reuse(size))
                print(f"{size.label}: migrated in {loaded.load_seconds:.1f} s", flush=True)
            else:
                print(
                    f"loading {size.label}: {size.keys:,} keys, {size.rows:,} usage rows ...",
                    flush=True,
                )
                loaded = asyncio.run(load(size))
                print(
                    f"  loaded and rolled up in {loaded.load_seconds:.0f} s; keyplane's RollUp "
                    f"folds {loaded.fold_rows_per_second:,.0f} minute rows/s",
                    flush=True,
                )
            figures[size.label] = asyncio.run(measure_in_process(loaded))
            loads[size.label] = loaded
        # The gateway's CPU per call moves by a third from one run to the next on these
        # cores: the sizes take turns, three rounds each, and the medians are compared.
        cpu: dict[str, list[float]] = {size.label: [] for size in sizes}
        for _ in range(args.rounds):
            for size in sizes:
                cpu[size.label].append(gateway_cpu_us(loads[size.label], args.seconds))
        for size in sizes:
            figures[size.label]["gateway_cpu_us"] = statistics.median(cpu[size.label])
            print(f"  gateway CPU per call, {size.label}: {cpu[size.label]} µs", flush=True)
        report(sizes[0], sizes[1], figures)
    finally:
        if not (args.keep or args.reuse):
            for size in sizes:
                asyncio.run(_drop_database(size.database))


if __name__ == "__main__":
    main()
