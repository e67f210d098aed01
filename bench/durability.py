"""Durability's cost: the meter with its journal beside the meter without, in the same run.

    .venv/bin/python bench/durability.py [--duration 5] [--rounds 3] [--calls 200000]

(1) In process: CPU time of ``Meter.record`` per call with a journal (one write(2) per call,
plus the fsync task's syncs) and without, over ``--calls`` calls each, alternating, best of
5; the difference is what durability adds to each call. (2) Through ``keyplane serve``
(bench/gateway_overhead.py's harness): non-streaming chat at 32 connections against an
instant upstream, keyplane's CPU µs per proxied request with ``KEYPLANE_USAGE_JOURNAL``
on and off, alternating for ``--rounds`` rounds. Not a test: it gates nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gateway_overhead import UPSTREAM_KEY, Keyplane, compare, warm

from keyplane.store.database import Database
from keyplane.testing import start_upstream_process
from keyplane.usage.journal import Journal
from keyplane.usage.meter import Meter
from keyplane.usage.records import Tokens, UsageRecord

KEYS = 50  # calls spread over this many keys, as on a busy gateway


def records(count: int) -> list[UsageRecord]:
    minute = int(time.time()) // 60 * 60
    return [
        UsageRecord(
            minute=minute,
            organization_id="org_bench",
            project_id="proj_bench",
            api_key_id=f"key_{i % KEYS:02d}",
            model="gpt-4o-mini",
            endpoint="chat.completions",
            tokens=Tokens(input=120, output=48, cached=16),
            cost_micro_usd=47,
            priced=True,
            status=200,
            latency_ms=3,
            provider="openai",
        )
        for i in range(count)
    ]


async def record_cpu(calls: list[UsageRecord], *, journal: bool, directory: Path) -> float:
    """CPU µs per ``record`` (and, with a journal, its share of the fsyncs)."""
    database = Database(f"sqlite+aiosqlite:///{directory / 'unused.db'}")
    meter = Meter(database, journal=Journal(directory / "journal") if journal else None)
    if meter.journal is not None:
        meter.journal.open()
    started = time.process_time()
    for index, call in enumerate(calls):
        meter.record(call)
        if meter.journal is not None and index % 2000 == 1999:
            # A sync per 2,000 calls: at the ~2k calls/s one process serves, once a second.
            await meter.journal.sync()
    cpu = time.process_time() - started
    if meter.journal is not None:
        await meter.journal.close(empty=False)
    await database.close()
    return cpu / len(calls) * 1e6


def in_process(count: int) -> None:
    calls = records(count)
    with_journal, without = [], []
    for _ in range(5):
        for journal, out in ((True, with_journal), (False, without)):
            directory = Path(tempfile.mkdtemp(prefix="kp-durability-"))
            try:
                out.append(asyncio.run(record_cpu(calls, journal=journal, directory=directory)))
            finally:
                shutil.rmtree(directory, ignore_errors=True)
    best_on, best_off = min(with_journal), min(without)
    print(
        f"(1) Meter.record, {count} calls, best of 5: with journal {best_on:.2f} µs, "
        f"without {best_off:.2f} µs, durability adds {best_on - best_off:.2f} µs CPU per call"
    )


def through_serve(duration: float, rounds: int) -> None:
    cpu: dict[bool, list[float]] = {True: [], False: []}
    with start_upstream_process(api_key=UPSTREAM_KEY) as fast:
        for _ in range(rounds):
            for journal in (True, False):
                keyplane = Keyplane(fast, "uvicorn")
                keyplane.env["KEYPLANE_USAGE_JOURNAL"] = "true" if journal else "false"
                keyplane.start()
                try:
                    warm(keyplane)
                    _, proxied, us = compare(fast, keyplane, "json", 32, duration)
                    cpu[journal].append(us)
                    state = "on " if journal else "off"
                    print(f"    journal {state}: {us:.0f} µs CPU/request, {proxied.rps:.0f} rps")
                finally:
                    keyplane.stop()
    on, off = statistics.median(cpu[True]), statistics.median(cpu[False])
    print(
        f"(2) keyplane serve, json c=32, median of {rounds}: journal on {on:.0f} µs, off "
        f"{off:.0f} µs CPU per proxied request: {on - off:+.0f} µs ({on / off - 1:+.1%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    in_process(args.calls)
    if not shutil.which("wrk"):
        sys.exit("wrk is missing for (2): apt-get install -y wrk")
    through_serve(args.duration, args.rounds)


if __name__ == "__main__":
    main()
