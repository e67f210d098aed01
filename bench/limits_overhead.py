"""What limits add to a gateway call: a key without limits vs one with limits, in one run.

    .venv/bin/python bench/limits_overhead.py [--duration 5] [--rounds 3] [--redis URL]

Two ``keyplane serve`` processes (SQLite) in front of the instant stand-in upstream
(``keyplane.testing.instant``, so the upstream takes little of the two cores): one
with the in-process limits backend, one with the Redis backend. On each, the same wrk load
(``bench/wrk/chat.lua``) runs with a key without limits and with a key that has every limit
(requests and tokens per minute, parallel requests, a budget), set high enough never to
refuse. Prints keyplane's CPU time per request (utime+stime from /proc over the run) at 32
connections and the p50 latency at 1 connection, each as a ratio to the key without limits
on the in-process server, and per round the limited Redis key over each key without limits
measured in the same round. Not a test: it gates nothing. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from dataclasses import dataclass

import httpx
from gateway_overhead import UPSTREAM_KEY, Keyplane, WrkResult, cpu_seconds, wrk

from keyplane.testing import start_upstream_process

EVERY_LIMIT = {
    "rate_limits": {
        "requests_per_minute": 10**9,
        "tokens_per_minute": 10**12,
        "max_parallel_requests": 10_000,
    },
    "budget": {"limit_usd": 1_000_000, "period": "month", "alert_thresholds": [99]},
}


@dataclass
class Measure:
    cpu_us: float
    rps: float
    p50_ms: float


def limited_key(keyplane: Keyplane) -> str:
    response = httpx.post(
        f"{keyplane.url}/v1/organization/projects/{keyplane.project_id}/api_keys",
        json={"name": "bench limited", **EVERY_LIMIT},
        headers={"Authorization": f"Bearer {keyplane.admin_key}"},
    )
    response.raise_for_status()
    value: str = response.json()["value"]
    return value


def loaded_run(keyplane: Keyplane, key: str, duration: float) -> tuple[float, WrkResult]:
    """One 32-connection wrk run with ``key``, and keyplane's CPU seconds over it."""
    before = cpu_seconds(keyplane.pid)
    loaded = wrk(f"{keyplane.url}/v1", "json", connections=32, duration=duration, key=key)
    return cpu_seconds(keyplane.pid) - before, loaded


def measure(keyplane: Keyplane, key: str, duration: float) -> Measure:
    cpu, loaded = loaded_run(keyplane, key, duration)
    cpu_us = cpu / max(loaded.requests, 1) * 1e6
    single = wrk(f"{keyplane.url}/v1", "json", connections=1, duration=duration, key=key)
    if loaded.errors or single.errors:
        sys.exit(f"non-2xx answers during the run: {loaded.errors + single.errors}")
    return Measure(cpu_us=cpu_us, rps=loaded.rps, p50_ms=single.p50_ms)


def run(duration: float, redis_url: str, rounds: int) -> None:
    with start_upstream_process(api_key=UPSTREAM_KEY, provider="instant") as upstream:
        servers = {
            "in-process": Keyplane(upstream, "uvicorn"),
            "redis": Keyplane(upstream, "uvicorn", redis_url=redis_url),
        }
        try:
            keys: dict[str, tuple[Keyplane, str]] = {}
            for backend, keyplane in servers.items():
                keyplane.start()
                limited = limited_key(keyplane)
                for key in (keyplane.key, limited):  # warm both paths (and Redis's scripts)
                    wrk(f"{keyplane.url}/v1", "json", connections=8, duration=1, key=key)
                keys[f"{backend}, no limits"] = (keyplane, keyplane.key)
                keys[f"{backend}, all limits"] = (keyplane, limited)
            # The machine is shared and noisy: alternate the configurations, keep medians.
            results: dict[str, list[Measure]] = {name: [] for name in keys}
            for _ in range(rounds):
                for name, (keyplane, key) in keys.items():
                    results[name].append(measure(keyplane, key, duration))
        finally:
            for keyplane in servers.values():
                keyplane.stop()
    report({name: median(ms) for name, ms in results.items()}, rounds)
    paired(results)


def median(measures: list[Measure]) -> Measure:
    return Measure(
        cpu_us=statistics.median(m.cpu_us for m in measures),
        rps=statistics.median(m.rps for m in measures),
        p50_ms=statistics.median(m.p50_ms for m in measures),
    )


def report(results: dict[str, Measure], rounds: int) -> None:
    base = results["in-process, no limits"]
    print(f"medians of {rounds} alternating rounds")
    print(f"{'key (backend)':28} {'CPU µs/req':>10} {'ratio':>6} {'req/s':>7} {'p50 c=1':>8} ratio")
    for name, m in results.items():
        print(
            f"{name:28} {m.cpu_us:10.0f} {m.cpu_us / base.cpu_us:6.2f} {m.rps:7.0f} "
            f"{m.p50_ms:6.2f}ms {m.p50_ms / base.p50_ms:5.2f}"
        )


def paired(results: dict[str, list[Measure]]) -> None:
    """The ratio of each round's limited key to a key without limits measured beside it.

    The CPU per call of one configuration drifts by a fifth between rounds on these cores
    (docs/benchmarks.md); a ratio of two runs a few seconds apart cancels the drift that
    the medians of separate columns keep.
    """
    limited = [m.cpu_us for m in results["redis, all limits"]]
    for name in ("redis, no limits", "in-process, no limits"):
        ratios = sorted(a / m.cpu_us for a, m in zip(limited, results[name], strict=True))
        spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}"
        print(
            f"redis, all limits / {name}, per round: median {statistics.median(ratios):.2f} "
            f"({spread}: {', '.join(f'{r:.2f}' for r in ratios)})"
        )


def paired_run(duration: float, redis_url: str, pairs: int) -> None:
    """Only the Redis server: its two keys in ``pairs`` back-to-back pairs of 32-connection
    runs; the limited key's CPU per call over the other's, per pair and over all of them."""
    with start_upstream_process(api_key=UPSTREAM_KEY, provider="instant") as upstream:
        keyplane = Keyplane(upstream, "uvicorn", redis_url=redis_url)
        keyplane.start()
        try:
            keys = {"no limits": keyplane.key, "all limits": limited_key(keyplane)}
            url = f"{keyplane.url}/v1"
            for key in keys.values():
                wrk(url, "json", connections=8, duration=1, key=key)
            totals = {name: [0.0, 0] for name in keys}
            ratios = []
            for index in range(pairs):
                order = list(keys.items()) if index % 2 == 0 else list(keys.items())[::-1]
                per_call = {}
                for name, key in order:
                    cpu, loaded = loaded_run(keyplane, key, duration)
                    if loaded.errors:
                        sys.exit(f"non-2xx answers during the run: {loaded.errors}")
                    totals[name][0] += cpu
                    totals[name][1] += loaded.requests
                    per_call[name] = cpu / max(loaded.requests, 1)
                ratios.append(per_call["all limits"] / per_call["no limits"])
                print(
                    f"pair {index + 1}: no limits {per_call['no limits'] * 1e6:.0f} µs, all "
                    f"limits {per_call['all limits'] * 1e6:.0f} µs ({ratios[-1]:.2f})"
                )
        finally:
            keyplane.stop()
    us = {name: cpu / max(calls, 1) * 1e6 for name, (cpu, calls) in totals.items()}
    print(
        f"redis, {pairs} pairs of {duration:g} s: no limits {us['no limits']:.0f} µs/call, "
        f"all limits {us['all limits']:.0f} µs/call, ratio over all "
        f"{us['all limits'] / us['no limits']:.2f}; per pair median "
        f"{statistics.median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in sorted(ratios))})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (medians)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis for limits")
    parser.add_argument(
        "--pairs", type=int, default=0, help="only Redis: N back-to-back pairs of the two keys"
    )
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")
    args = parser.parse_args()
    if args.pairs:
        paired_run(args.duration, args.redis, args.pairs)
    else:
        run(args.duration, args.redis, args.rounds)


if __name__ == "__main__":
    main()
