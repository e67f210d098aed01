"""The usage journal: calls survive a killed process, and batches are written exactly once."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from keyplane.config import Settings
from keyplane.store.database import Database
from keyplane.store.models import UsageBatch, UsageBucket
from keyplane.usage import meter as meter_module
from keyplane.usage.buckets import BucketKey
from keyplane.usage.counters import UsageCounters
from keyplane.usage.journal import Journal, Segment
from keyplane.usage.meter import Meter
from keyplane.usage.records import Tokens, UsageRecord

MINUTE = 1_800_000_000 // 60 * 60


def record(key: str = "key_1", *, cost: int = 7, tokens: Tokens | None = None) -> UsageRecord:
    return UsageRecord(
        minute=MINUTE,
        organization_id="org_1",
        project_id="proj_1",
        api_key_id=key,
        model="gpt-4o",
        endpoint="chat.completions",
        tokens=tokens or Tokens(input=10, output=5, cached=2, reasoning=1, cache_write=1),
        cost_micro_usd=cost,
        priced=True,
        status=200,
        latency_ms=3,
        provider="openai",
        service_tier="default",
        estimated=True,
    )


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.resolved_database_url)
    yield db
    await db.close()


def journal_dir(settings: Settings) -> Path:
    return settings.data_dir / "journal"


async def totals(database: Database) -> tuple[int, int, int]:
    """(requests, input tokens, cost) over all stored buckets."""
    query = select(
        func.coalesce(func.sum(UsageBucket.requests), 0),
        func.coalesce(func.sum(UsageBucket.input_tokens), 0),
        func.coalesce(func.sum(UsageBucket.cost_micro_usd), 0),
    )
    async with database.session() as session:
        row = (await session.execute(query)).one()
    return int(row[0]), int(row[1]), int(row[2])


async def batches(database: Database) -> int:
    async with database.session() as session:
        return int(
            (await session.execute(select(func.count()).select_from(UsageBatch))).scalar_one()
        )


def unopened_meter(database: Database, directory: Path) -> Meter:
    return Meter(database, interval_seconds=3600, journal=Journal(directory))


async def started_meter(database: Database, directory: Path) -> Meter:
    meter = unopened_meter(database, directory)
    await meter.open()
    meter.start()
    return meter


# A child process that meters calls and is then killed, as `kill -9` would.
_CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    from keyplane.store.database import Database
    from keyplane.usage.journal import Journal
    from keyplane.usage.meter import Meter
    from keyplane.usage.records import Tokens, UsageRecord

    url, directory, calls, mode = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

    async def main() -> None:
        meter = Meter(Database(url), interval_seconds=3600, journal=Journal(directory))
        await meter.open()
        for i in range(calls):
            meter.record(UsageRecord(
                minute=1_800_000_000 // 60 * 60, organization_id="org_1", project_id="proj_1",
                api_key_id=f"key_{i % 3}", model="gpt-4o", endpoint="chat.completions",
                tokens=Tokens(input=10, output=5), cost_micro_usd=7, priced=True, status=200,
                latency_ms=3,
            ))
        if mode == "die-after-commit":  # the batch is in the store, its segment not deleted
            event.listen(Session, "after_commit", lambda _: os.kill(os.getpid(), signal.SIGKILL))
            await meter.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
    """
)


def run_and_kill(settings: Settings, calls: int, mode: str = "die") -> None:
    url, directory = settings.resolved_database_url, str(journal_dir(settings))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, url, directory, str(calls), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stderr


async def test_calls_of_a_killed_process_are_written_by_the_next_start(
    settings: Settings, database: Database
) -> None:
    run_and_kill(settings, 50)
    assert await totals(database) == (0, 0, 0)
    meter = await started_meter(database, journal_dir(settings))
    assert await totals(database) == (50, 500, 350)
    await meter.stop()
    assert list(journal_dir(settings).iterdir()) == []


async def test_if_killed_after_its_commit_then_the_replay_adds_nothing(
    settings: Settings, database: Database
) -> None:
    run_and_kill(settings, 20, "die-after-commit")
    assert await totals(database) == (20, 200, 140)
    assert any(journal_dir(settings).glob("*.log"))  # the segment outlived its batch
    meter = await started_meter(database, journal_dir(settings))
    assert await totals(database) == (20, 200, 140)
    await meter.stop()
    assert list(journal_dir(settings).iterdir()) == []


async def test_if_the_acknowledgement_of_a_commit_is_lost_then_the_retry_adds_nothing(
    settings: Settings, database: Database
) -> None:
    meter = await started_meter(database, journal_dir(settings))
    meter.record(record())

    def lost(_: Session) -> None:
        raise ConnectionError("connection reset after COMMIT")

    event.listen(Session, "after_commit", lost)
    try:
        with pytest.raises(ConnectionError):
            await meter.flush()
    finally:
        event.remove(Session, "after_commit", lost)
    meter.record(record())
    assert await meter.flush() == 1  # only the new call's bucket: the first batch was in
    assert await totals(database) == (2, 20, 14)
    await meter.stop()


async def test_a_journal_line_replays_to_the_bucket_the_meter_sums(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    run_dir = journal_dir(settings)
    meter = Meter(database, journal=Journal(run_dir))
    await meter.open()
    meter.record(record())
    await meter.journal.close(empty=False)  # type: ignore[union-attr]  # as if killed
    in_memory = Meter(database)
    in_memory.record(record())
    await in_memory.flush()
    [expected] = await _rows(database)
    async with database.session() as session, session.begin():
        await session.execute(delete(UsageBucket))
    replayed = await started_meter(database, run_dir)
    [row] = await _rows(database)
    await replayed.stop()
    assert _values(row) == _values(expected)


async def _rows(database: Database) -> list[UsageBucket]:
    async with database.session() as session:
        return list((await session.execute(select(UsageBucket))).scalars())


def _values(row: UsageBucket) -> dict[str, object]:
    return {c.name: getattr(row, c.name) for c in UsageBucket.__table__.columns if c.name != "id"}


async def test_journal_files_are_private(settings: Settings, database: Database) -> None:
    meter = await started_meter(database, journal_dir(settings))
    meter.record(record())
    assert stat.S_IMODE(journal_dir(settings).stat().st_mode) == 0o700
    files = list(journal_dir(settings).iterdir())
    assert {path.suffix for path in files} == {".lock", ".log"}
    assert {stat.S_IMODE(path.stat().st_mode) for path in files} == {0o600}
    await meter.stop()


async def test_flushed_segments_are_deleted(settings: Settings, database: Database) -> None:
    meter = await started_meter(database, journal_dir(settings))
    for _ in range(5):
        meter.record(record())
        await meter.flush()
    assert len(list(journal_dir(settings).glob("*.log"))) == 1  # just the open one
    await meter.stop()
    assert await totals(database) == (5, 50, 35)


async def test_if_the_shutdown_flush_fails_then_the_next_start_writes_it(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    broken = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    meter = Meter(broken, interval_seconds=3600, journal=Journal(journal_dir(settings)))
    await meter.open()
    meter.start()
    meter.record(record())
    meter.record(record("key_2"))
    await meter.stop()  # logs, does not raise: the app's shutdown goes on
    await broken.close()
    assert any(journal_dir(settings).glob("*.log"))
    again = await started_meter(database, journal_dir(settings))
    await again.stop()
    assert await totals(database) == (2, 20, 14)
    assert list(journal_dir(settings).iterdir()) == []


async def test_a_torn_last_line_is_skipped_and_the_rest_replayed(
    settings: Settings, database: Database
) -> None:
    meter = Meter(database, journal=Journal(journal_dir(settings)))
    await meter.open()
    meter.record(record())
    meter.record(record())
    assert meter.journal is not None
    meter.journal.append(b'[1,1800000000,"key_1","gpt')  # a machine crash mid-write
    await meter.journal.close(empty=False)
    replayed = await started_meter(database, journal_dir(settings))
    await replayed.stop()
    assert await totals(database) == (2, 20, 14)


async def test_a_recount_writes_the_journal_of_a_process_that_died_since_this_one_started(
    settings: Settings, database: Database
) -> None:
    meter = await started_meter(database, journal_dir(settings))
    run_and_kill(settings, 50)  # a sibling worker, killed after this process had opened
    await meter.recount()  # another instance is about to seed a budget from the store
    assert await totals(database) == (50, 500, 350)
    await meter.stop()


async def test_a_recount_asked_while_the_journals_are_replayed_waits_for_them(
    settings: Settings, database: Database
) -> None:
    run_and_kill(settings, 50)
    meter = unopened_meter(database, journal_dir(settings))
    recount = asyncio.create_task(meter.recount())
    await asyncio.sleep(0.05)
    assert not recount.done()
    await meter.open()
    await recount
    assert await totals(database) == (50, 500, 350)
    await meter.stop()


async def test_a_journal_found_again_before_it_is_written_is_held_once(
    settings: Settings, database: Database
) -> None:
    run_and_kill(settings, 50)
    for lock in journal_dir(settings).glob("*.lock"):
        lock.unlink()  # its adopter died while deleting it: segments without a lock
    meter = unopened_meter(database, journal_dir(settings))

    def down(_: Session) -> None:
        raise ConnectionError("the store is down")

    event.listen(Session, "before_commit", down)
    try:
        await meter.open()  # cannot write the replayed batch: it stays held
        with pytest.raises(ConnectionError):
            await meter.recount()  # finds the same segments again
    finally:
        event.remove(Session, "before_commit", down)
    since = datetime.fromtimestamp(MINUTE, UTC)
    assert await meter.spent(since=since, project_id="proj_1") == 350
    await meter.stop()
    assert await totals(database) == (50, 500, 350)


async def test_the_journal_of_a_process_that_is_gone_is_read_off_the_event_loop(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead process's journal can hold megabytes (4 MB of lines parse in about 75 ms):
    parsed on the event loop, it would hold up every call in flight."""
    run_and_kill(settings, 50)
    readers: list[bool] = []
    read = meter_module._read

    def watched(segment: Segment) -> dict[BucketKey, UsageCounters]:
        readers.append(threading.current_thread() is threading.main_thread())
        return read(segment)

    monkeypatch.setattr(meter_module, "_read", watched)
    meter = await started_meter(database, journal_dir(settings))
    run_and_kill(settings, 20)  # a sibling, killed after this process had opened
    await meter.recount()
    await meter.stop()
    assert readers == [False, False]
    assert await totals(database) == (70, 700, 490)


async def test_a_live_process_journal_is_not_adopted(
    settings: Settings, database: Database
) -> None:
    first = await started_meter(database, journal_dir(settings))
    first.record(record())
    second = await started_meter(database, journal_dir(settings))
    assert await second.flush() == 0
    assert await totals(database) == (0, 0, 0)
    await second.stop()
    await first.stop()
    assert await totals(database) == (1, 10, 7)


async def test_spend_counts_what_is_stored_and_what_is_held_once_each(
    settings: Settings, database: Database
) -> None:
    meter = await started_meter(database, journal_dir(settings))
    since = datetime.fromtimestamp(MINUTE, UTC)
    meter.record(record(cost=100))
    await meter.flush()
    meter.record(record(cost=20))

    def lost(_: Session) -> None:
        raise ConnectionError("connection reset after COMMIT")

    event.listen(Session, "after_commit", lost)
    try:
        with pytest.raises(ConnectionError):
            await meter.flush()  # in the store, and still held: it must count once
    finally:
        event.remove(Session, "after_commit", lost)
    meter.record(record(cost=3))
    meter.record(record("key_other", cost=1000))
    assert await meter.spent(since=since, api_key_id="key_1") == 123
    assert await meter.spent(since=since, project_id="proj_1") == 1123
    later = datetime.fromtimestamp(MINUTE + 60, UTC)
    assert await meter.spent(since=later, api_key_id="key_1") == 0
    await meter.stop()
    assert await batches(database) == 3
    assert (await totals(database))[2] == 1123


async def test_a_long_open_segment_is_compacted_while_the_store_is_down(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    broken = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    meter = Meter(
        broken, interval_seconds=3600, journal=Journal(journal_dir(settings)), compact_bytes=1000
    )
    await meter.open()
    meter.start()
    meter.record(record())
    with pytest.raises(OperationalError):
        await meter.flush()
    for _ in range(100):
        meter.record(record())
    open_segment = sorted(journal_dir(settings).glob("*.log"))[-1]
    assert open_segment.stat().st_size > 10_000
    meter.compact()
    assert open_segment.stat().st_size < 400  # one line for the one bucket
    meter.record(record())  # appends after the compacted line
    await meter.stop()
    await broken.close()
    replayed = await started_meter(database, journal_dir(settings))
    await replayed.stop()
    assert await totals(database) == (102, 1020, 714)
