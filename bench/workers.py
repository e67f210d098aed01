"""Throughput of ``keyplane serve --workers 2`` beside ``--workers 1``, in one run.

    .venv/bin/python bench/workers.py [--duration 5] [--rounds 3]

Both serve on SQLite with Redis limits (KEYPLANE_REDIS_URL, needed for several workers) in
front of an upstream answering at once: by default the instant stand-in
(``keyplane.testing.instant``, a bare protocol with one fixed answer, so that the upstream
takes little of the two cores), or with ``--upstream full`` the ASGI stand-in the tests use
(``--upstream-workers`` processes), which costs about as much CPU per call as keyplane. wrk
sends non-streaming chat completions at 64 connections with an issued project key, metering
on. The two servers take turns for ``--rounds`` rounds, so load that drifts hits both alike;
prints each round's requests/s, keyplane's CPU per call, and the ratio of the medians. The
upstream and wrk share the machine's cores with keyplane, so the ratio is a floor of what two
workers give on a machine of their own. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_overhead import REDIS_URL, UPSTREAM_KEY, Keyplane, alternate, running

from keyplane.testing import UpstreamProcess, start_upstream_process


def served(upstream: UpstreamProcess, workers: int) -> Keyplane:
    """``keyplane serve --workers N`` with Redis limits."""
    return Keyplane(upstream, "uvicorn", workers=workers, redis_url=REDIS_URL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--upstream", choices=("instant", "full"), default="instant")
    parser.add_argument("--upstream-workers", type=int, default=1, help="with --upstream full")
    args = parser.parse_args()
    if args.upstream == "instant":
        upstream = start_upstream_process(api_key=UPSTREAM_KEY, provider="instant")
    else:
        upstream = start_upstream_process(api_key=UPSTREAM_KEY, workers=args.upstream_workers)
    with upstream as fast:
        servers = {f"--workers {n}": served(fast, n) for n in (1, 2)}
        with running(servers):
            measured = alternate(
                servers, rounds=args.rounds, duration=args.duration, connections=64
            )
    for name, values in measured.rps.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(
            f"{name}: {shown} requests/s (median {statistics.median(values):.0f}); "
            f"keyplane CPU {statistics.median(measured.cpu_us[name]):.0f} us per call"
        )
    rates = list(measured.rps.values())
    ratio = statistics.median(rates[1]) / statistics.median(rates[0])
    print(f"two workers give {ratio:.2f}x one worker's throughput (target >= 1.7x)")


if __name__ == "__main__":
    main()
