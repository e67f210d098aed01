"""How long the event loop stalls while an instance takes in a dead process's journal.

    .venv/bin/python bench/adopt_stall.py [--megabytes 4] [--rounds 5]

A sibling worker killed mid-flush leaves its journal behind, up to the 4 MB at which an open
segment is compacted (a store outage) and ordinarily a flush interval of calls. The next
recount (or the periodic adoption) reads it, replays it into the meter and writes it to the
store. This writes such a journal (distinct minute buckets of 500 keys), runs a recount on
a fresh SQLite store with a 1 ms loop ticker beside it, and prints the longest gap between
ticks: what every call in flight on that instance would wait. Not a test: it gates nothing.
See docs/benchmarks.md, "The tail".
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import uvloop

from keyplane.store.database import Database
from keyplane.store.migrate import upgrade_to_head
from keyplane.usage.buckets import COUNTERS, BucketKey, counts_line
from keyplane.usage.journal import Journal
from keyplane.usage.meter import Meter

DEAD = "j00000000deadbeef"  # a journal name no live process holds


def dead_journal(directory: Path, megabytes: float) -> int:
    """A journal of a process that is gone, of about ``megabytes``; its number of lines."""
    directory.mkdir(mode=0o700)
    lines, size = [], 0
    while size < megabytes * 1024 * 1024:
        index = len(lines)
        key = BucketKey(
            29_000_000 + index % 60,
            f"key_{index % 500:024d}",
            "gpt-4o-mini",
            "chat.completions",
            "openai",
            "default",
            "org_" + "x" * 24,
            "proj_" + "y" * 24,
        )
        lines.append(counts_line(key, tuple(range(1, len(COUNTERS) + 1))))
        size += len(lines[-1])
    (directory / f"{DEAD}.00000001.log").write_bytes(b"".join(lines))
    (directory / f"{DEAD}.lock").write_bytes(b"")
    return len(lines)


async def one_round(megabytes: float) -> tuple[float, float, int]:
    """(recount ms, longest loop stall ms, lines) for one dead journal."""
    workdir = Path(tempfile.mkdtemp(prefix="kp-adopt-"))
    try:
        lines = dead_journal(workdir / "journal", megabytes)
        database = Database(f"sqlite+aiosqlite:///{workdir / 'keyplane.db'}")
        await upgrade_to_head(database)
        meter = Meter(database, interval_seconds=3600, journal=Journal(workdir / "journal"))
        assert meter.journal is not None
        meter.journal.open()  # as a live instance: its own journal open, the dead one not yet
        meter._opened.set()
        gaps: list[float] = []

        async def tick() -> None:
            last = time.perf_counter()
            while True:
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.05)
        gaps.clear()
        started = time.perf_counter()
        await meter.recount()
        took = time.perf_counter() - started
        await asyncio.sleep(0.002)
        ticker.cancel()
        await meter.stop()
        await database.close()
        return took * 1e3, max(gaps) * 1e3, lines
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def run(megabytes: float, rounds: int) -> None:
    results = [await one_round(megabytes) for _ in range(rounds)]
    for took, stall, lines in results:
        print(f"recount of {lines:,} lines: {took:.1f} ms, longest loop stall {stall:.1f} ms")
    print(
        f"median of {rounds}: recount {statistics.median(r[0] for r in results):.1f} ms, "
        f"longest loop stall {statistics.median(r[1] for r in results):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    uvloop.run(run(args.megabytes, args.rounds))


if __name__ == "__main__":
    main()
