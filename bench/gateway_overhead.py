"""Gateway overhead: the same wrk load straight to the stand-in upstream and through keyplane.

    .venv/bin/python bench/gateway_overhead.py [--duration 5] [--server uvicorn|granian]
        [--tail-rounds N [--workers N] [--connections N] [--upstream instant|full]
                         [--jitter-ms J]]
        # only (c) non-streaming, N alternating rounds, medians

Prints, side by side, for non-streaming and streaming chat completions (bench/wrk/*.lua):
(a) instant upstream, 32 connections: requests/s direct and through keyplane, and keyplane's
CPU time per proxied request (utime+stime of its processes from /proc over the run);
(b) 1 connection: latency added at p50 and p99; (c) upstream answering after 20 ms, 32
connections: throughput ratio and latency added at p50/p99; (d) time from start to ready,
resident memory idle and under load. With --tail-rounds the 20 ms upstream is by default the
instant stand-in on a timer (it costs next to no CPU, so direct p99 is the upstream's and
wrk's alone); ``--upstream full`` is the ASGI stand-in of (c), and ``--jitter-ms J``
spreads the instant one's delays over 20 ± J ms. keyplane runs as ``keyplane serve`` with
SQLite, an issued project key and metering on. Not a test: it gates nothing. See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import httpx

from keyplane.testing import UpstreamProcess, start_upstream_process

HERE = Path(__file__).resolve().parent
UPSTREAM_KEY = "sk-test-upstream-bench"
SCRIPTS = {"json": HERE / "wrk" / "chat.lua", "stream": HERE / "wrk" / "chat_stream.lua"}
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (granian serves from a child process)."""
    pids, index = [pid], 0
    while index < len(pids):
        for task in Path(f"/proc/{pids[index]}/task").glob("*/children"):
            pids += [int(child) for child in task.read_text().split()]
        index += 1
    return pids


def cpu_seconds(pid: int) -> float:
    total = 0
    for each in tree(pid):
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def rss_mb(pid: int) -> float:
    pages = sum(int(Path(f"/proc/{p}/statm").read_text().split()[1]) for p in tree(pid))
    return pages * PAGE / 2**20


@dataclass
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, kind: str, *, connections: int, duration: float, key: str) -> WrkResult:
    threads = 1 if connections == 1 else 2
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(duration)}s", "--latency"]
    command += ["-s", str(SCRIPTS[kind]), f"{url}/chat/completions"]
    out = subprocess.run(
        command, env={**os.environ, "WRK_API_KEY": key}, capture_output=True, text=True, check=True
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    return WrkResult(
        requests=int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        errors=int(re.search(r"non-2xx or errors: (\d+)", out).group(1)),  # type: ignore[union-attr]
    )


REDIS_URL = "redis://127.0.0.1:6379/0"


class Keyplane:
    """A ``keyplane serve`` (or granian) process in a temporary directory, with a project key."""

    def __init__(
        self,
        upstream: UpstreamProcess,
        server: str,
        *,
        workers: int = 1,
        redis_url: str | None = None,
    ) -> None:
        self.workers = workers
        self.workdir = Path(tempfile.mkdtemp(prefix="kp-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = server
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KEYPLANE_")}
        self.env |= {
            "KEYPLANE_DATA_DIR": str(self.workdir / "data"),
            "KEYPLANE_UPSTREAM_BASE_URL": upstream.base_url,
            "KEYPLANE_UPSTREAM_API_KEY": UPSTREAM_KEY,
            "KEYPLANE_LOG_LEVEL": "warning",
            "KEYPLANE_PORT": str(self.port),
        }
        if redis_url is not None:  # limits on Redis, as several workers need
            self.env["KEYPLANE_REDIS_URL"] = redis_url
        init = subprocess.run(
            [sys.executable, "-m", "keyplane", "init", "--json"],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            check=True,
        )
        boot = json.loads(init.stdout)
        self.admin_key, self.project_id = boot["admin_key"], boot["project_id"]
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_seconds = 0.0
        self.key = ""

    def _command(self) -> list[str]:
        if self.server == "granian":
            return [
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--factory",
                "--loop",
                "uvloop",
                "--workers",
                "1",
                "--no-ws",
                "--log-level",
                "warning",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "granian_app:app",
            ]
        return [sys.executable, "-m", "keyplane", "serve", "--workers", str(self.workers)]

    def start(self) -> None:
        # This tree's keyplane, not whichever one the virtualenv has installed.
        env = {**self.env, "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), str(HERE)])}
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self._command(),
            env=env,
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "server.log").open("wb"),
        )
        while time.perf_counter() - started < 30:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    self.ready_seconds = time.perf_counter() - started
                    break
            except httpx.HTTPError:
                time.sleep(0.01)
        else:
            log = (self.workdir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"keyplane did not become ready in 30 s; its log ends:\n{log}")
        response = httpx.post(
            f"{self.url}/v1/organization/projects/{self.project_id}/api_keys",
            json={"name": "bench"},
            headers={"Authorization": f"Bearer {self.admin_key}"},
        )
        self.key = response.json()["value"]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
        shutil.rmtree(self.workdir, ignore_errors=True)


class PeakRss:
    """Samples a process tree's RSS every 100 ms while a load runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class Server(Protocol):
    """What a run needs of a server in front of the upstream (``Keyplane``, or
    ``bench/tail_floor.py``'s relays): its URL (``/v1`` follows), a key it takes, its pid."""

    url: str
    key: str

    @property
    def pid(self) -> int: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def compare(
    upstream: UpstreamProcess, keyplane: Server, kind: str, connections: int, duration: float
) -> tuple[WrkResult, WrkResult, float]:
    """Direct, then through keyplane; returns both and keyplane's CPU µs per request."""
    direct = wrk(
        upstream.base_url, kind, connections=connections, duration=duration, key=UPSTREAM_KEY
    )
    before = cpu_seconds(keyplane.pid)
    proxied = wrk(
        f"{keyplane.url}/v1", kind, connections=connections, duration=duration, key=keyplane.key
    )
    cpu_us = (cpu_seconds(keyplane.pid) - before) / max(proxied.requests, 1) * 1e6
    return direct, proxied, cpu_us


@dataclass
class Rounds:
    """Requests/s and keyplane's CPU µs per call of each server, a value per round."""

    rps: dict[str, list[float]]
    cpu_us: dict[str, list[float]]


def alternate(
    servers: dict[str, Keyplane], *, rounds: int, duration: float, connections: int
) -> Rounds:
    """The same non-streaming wrk load on each server in turn, ``rounds`` times (so load that
    drifts hits every server alike); a failed call stops the run."""
    measured = Rounds({name: [] for name in servers}, {name: [] for name in servers})
    for _ in range(rounds):
        for name, server in servers.items():
            before = cpu_seconds(server.pid)
            result = wrk(
                f"{server.url}/v1", "json", connections=connections, duration=duration,
                key=server.key,
            )  # fmt: skip
            if result.errors:
                raise SystemExit(f"{result.errors} calls failed on {name}")
            measured.rps[name].append(result.rps)
            measured.cpu_us[name].append((cpu_seconds(server.pid) - before) / result.requests * 1e6)
            time.sleep(0.5)
    return measured


S = TypeVar("S", bound=Server)


@contextlib.contextmanager
def running(servers: dict[str, S]) -> Iterator[dict[str, S]]:
    """Start and warm every server; stop them all however the block ends."""
    try:
        for server in servers.values():
            server.start()
            warm(server)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def warm(keyplane: Server) -> None:
    for kind in SCRIPTS:
        wrk(f"{keyplane.url}/v1", kind, connections=8, duration=1, key=keyplane.key)


def run(args: argparse.Namespace) -> None:
    d = args.duration
    with start_upstream_process(api_key=UPSTREAM_KEY) as fast:
        keyplane = Keyplane(fast, args.server)
        keyplane.start()
        try:
            idle = rss_mb(keyplane.pid)
            print(
                f"server: {args.server}; (d) ready in {keyplane.ready_seconds:.2f} s, "
                f"RSS idle {idle:.0f} MB"
            )
            warm(keyplane)
            with PeakRss(keyplane.pid) as peak:
                for kind in SCRIPTS:
                    direct, proxied, cpu = compare(fast, keyplane, kind, 32, d)
                    print(
                        f"(a) {kind:6} c=32 instant: direct {direct.rps:7.0f} rps, keyplane "
                        f"{proxied.rps:7.0f} rps ({proxied.rps / direct.rps:.0%}), "
                        f"keyplane CPU {cpu:.0f} µs/request, errors {proxied.errors}"
                    )
            print(f"(d) RSS under load (peak): {peak.peak:.0f} MB")
            for kind in SCRIPTS:
                direct, proxied, _ = compare(fast, keyplane, kind, 1, d)
                print(
                    f"(b) {kind:6} c=1: added p50 {proxied.p50_ms - direct.p50_ms:+.2f} ms, "
                    f"p99 {proxied.p99_ms - direct.p99_ms:+.2f} ms (direct p50 "
                    f"{direct.p50_ms:.2f} ms, keyplane p50 {proxied.p50_ms:.2f} ms)"
                )
        finally:
            keyplane.stop()
    with start_upstream_process(api_key=UPSTREAM_KEY, delay_ms=20) as slow:
        keyplane = Keyplane(slow, args.server)
        keyplane.start()
        try:
            warm(keyplane)
            for kind in SCRIPTS:
                direct, proxied, _ = compare(slow, keyplane, kind, 32, d)
                print(
                    f"(c) {kind:6} c=32 20 ms: throughput {proxied.rps / direct.rps:.1%} of "
                    f"direct ({direct.rps:.0f} vs {proxied.rps:.0f} rps), added p50 "
                    f"{proxied.p50_ms - direct.p50_ms:+.2f} ms, p99 "
                    f"{proxied.p99_ms - direct.p99_ms:+.2f} ms"
                )
        finally:
            keyplane.stop()


def tail(args: argparse.Namespace) -> None:
    """Only (c), non-streaming: direct and proxied alternating, medians of the rounds."""
    provider = "instant" if args.upstream == "instant" else "openai"
    with start_upstream_process(
        api_key=UPSTREAM_KEY, delay_ms=20, jitter_ms=args.jitter_ms, provider=provider
    ) as slow:
        redis = REDIS_URL if args.workers > 1 else None
        keyplane = Keyplane(slow, args.server, workers=args.workers, redis_url=redis)
        keyplane.start()
        try:
            warm(keyplane)
            rounds = []
            for index in range(args.tail_rounds):
                direct, proxied, cpu_us = compare(
                    slow, keyplane, "json", args.connections, args.duration
                )
                rounds.append(
                    (proxied.p50_ms - direct.p50_ms, proxied.p99_ms - direct.p99_ms, direct)
                )
                print(
                    f"round {index + 1}: added p50 {rounds[-1][0]:+.2f} ms, p99 "
                    f"{rounds[-1][1]:+.2f} ms (direct p99 {direct.p99_ms:.2f} ms, "
                    f"throughput {proxied.rps / direct.rps:.1%}, keyplane CPU {cpu_us:.0f} µs "
                    f"a call, x{args.connections} = {cpu_us * args.connections / 1000:.1f} ms)"
                )
        finally:
            keyplane.stop()
    p50 = statistics.median(r[0] for r in rounds)
    p99 = statistics.median(r[1] for r in rounds)
    spread = f" ± {args.jitter_ms:g}" if args.jitter_ms else ""
    print(
        f"(c) json c={args.connections} 20{spread} ms ({args.upstream} stand-in), {args.workers} "
        f"worker(s), median of "
        f"{len(rounds)}: added p50 {p50:+.2f} ms, p99 {p99:+.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5.0, help="seconds per wrk run")
    parser.add_argument(
        "--tail-rounds", type=int, default=0, help="only the 20 ms tail, in N alternating rounds"
    )
    parser.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    parser.add_argument(
        "--connections", type=int, default=32, help="with --tail-rounds: wrk's connections"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="with --tail-rounds: serve --workers N (Redis)"
    )
    parser.add_argument(
        "--upstream",
        choices=("instant", "full"),
        default="instant",
        help="with --tail-rounds: the instant stand-in with a 20 ms timer, or the ASGI one",
    )
    parser.add_argument(
        "--jitter-ms",
        type=float,
        default=0.0,
        help="with --tail-rounds: each answer after 20 ms give or take this (instant only)",
    )
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")
    args = parser.parse_args()
    if args.tail_rounds:
        tail(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
