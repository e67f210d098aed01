"""The tail's floor: what a one-loop proxy adds at p99 for the CPU it spends on a call.

    .venv/bin/python bench/tail_floor.py [--rounds 3] [--duration 4] [--costs 0,60,140,280]
        [--work spin|python] [--jitter-ms J] [--connections 32] [--no-keyplane]

Item 6 of issue #17 asks keyplane to add at most 2 ms at p99 in front of an upstream that
answers in 20 ms, at 32 connections. This measures what that asks of any proxy on this
machine, beside keyplane in the same run. The load of ``bench/gateway_overhead.py
--tail-rounds`` (non-streaming chat, wrk, the instant stand-in on a 20 ms timer, 20 ± J ms
with ``--jitter-ms``) goes, in alternating rounds, straight to the upstream and then through:

- **byte relays** (this file with ``--relay``): a uvloop protocol per client connection that
  writes every read to its own kept-alive upstream connection, and every answer back,
  parsing nothing, and that spends a set CPU time on every call, half on the way in and half
  on the way out. ``--work spin`` spins on the thread's CPU clock (so time descheduled is
  not counted as work); ``--work python`` runs a fixed amount of Python (dict look-ups in a
  200,000-row table and an orjson round trip), calibrated at start to take that long warm,
  so that like keyplane's code it runs slower when its caches are cold. A relay of cost 0 is
  the cheapest proxy a Python loop can be; of cost C, a proxy that needs C µs of the loop a
  call and does nothing else: no task, no await, no collector, no periodic work, no thread;
- **keyplane**: ``keyplane serve`` as the tail benchmark runs it (SQLite, metering on).

Each target's added p50/p99 is against a direct run just before it; its CPU a call is read
from /proc over its run. Not a test: it gates nothing. See docs/benchmarks.md, "The tail".
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
_ROWS = 200_000


class _Work:
    """Spends about ``seconds`` of this thread's CPU on each call: spinning or in Python."""

    def __init__(self, seconds: float, kind: str) -> None:
        self.seconds = seconds
        self.kind = kind
        self.table = [{"n": index, "s": str(index)} for index in range(_ROWS)]
        self.at = 0
        self.rounds = 0
        if kind == "python" and seconds:
            started, done = time.thread_time(), 0
            while time.thread_time() - started < 0.5:
                self._python(50)
                done += 50
            self.rounds = max(1, round(done * seconds / (time.thread_time() - started)))

    def _python(self, rounds: int) -> None:
        table, at = self.table, self.at
        for _ in range(rounds):
            at = (at * 1_103_515_245 + 12_345) % _ROWS  # a row anywhere: cache misses
            row = table[at]
            orjson.loads(orjson.dumps({"a": row["n"], "b": [row["s"], at], "c": {"d": row}}))
        self.at = at

    def __call__(self) -> None:
        if self.rounds:
            self._python(self.rounds)
        elif self.seconds:
            end = time.thread_time() + self.seconds
            while time.thread_time() < end:
                pass


def _no_delay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _ToUpstream(asyncio.Protocol):
    def __init__(self, client: _FromClient) -> None:
        self.client = client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        _no_delay(transport)

    def data_received(self, data: bytes) -> None:
        self.client.answer(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.close()


class _FromClient(asyncio.Protocol):
    """One client connection and its own upstream connection."""

    def __init__(self, upstream: tuple[str, int], work: _Work) -> None:
        self.upstream, self.work = upstream, work
        self.transport: asyncio.Transport | None = None
        self.up: asyncio.Transport | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] # uvloop's is no asyncio.Transport
        _no_delay(transport)
        asyncio.get_running_loop().create_task(self._open())

    async def _open(self) -> None:
        up, _ = await asyncio.get_running_loop().create_connection(
            lambda: _ToUpstream(self), *self.upstream
        )
        self.up = up
        for data in self.pending:
            up.write(data)
        self.pending = []

    def data_received(self, data: bytes) -> None:
        self.work()
        if self.up is None:
            self.pending.append(data)
        else:
            self.up.write(data)

    def answer(self, data: bytes) -> None:
        self.work()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def close(self) -> None:
        for transport in (self.transport, self.up):
            if transport is not None and not transport.is_closing():
                transport.close()


async def _relay(port: int, upstream: tuple[str, int], cost_us: float, kind: str) -> None:
    work = _Work(cost_us / 2 / 1e6, kind)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _FromClient(upstream, work), "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


class Relay:
    """A byte relay in a subprocess, in front of ``upstream_url``; a ``gateway_overhead``
    server, taking the upstream's own key."""

    def __init__(self, upstream_url: str, cost_us: float, kind: str, port: int, key: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.key = key
        host, upstream_port = upstream_url.split("//")[1].split("/")[0].rsplit(":", 1)
        self.command = [sys.executable, __file__, "--relay", str(port), host, upstream_port]
        self.command += [str(cost_us), kind]
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the relay did not start")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


def measure(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE))
    from gateway_overhead import UPSTREAM_KEY, Keyplane, Server, compare, free_port, running

    from keyplane.testing import start_upstream_process

    costs = [float(cost) for cost in args.costs.split(",")]
    with start_upstream_process(
        api_key=UPSTREAM_KEY, delay_ms=20, jitter_ms=args.jitter_ms, provider="instant"
    ) as slow:
        targets: dict[str, Server] = {
            f"relay, {cost:.0f} µs a call": Relay(
                slow.base_url, cost, args.work, free_port(), UPSTREAM_KEY
            )
            for cost in costs
        }
        if not args.no_keyplane:
            targets["keyplane"] = Keyplane(slow, "uvicorn")
        added: dict[str, list[tuple[float, float, float]]] = {name: [] for name in targets}
        with running(targets):
            for index in range(args.rounds):
                for name, target in targets.items():
                    direct, through, cpu_us = compare(
                        slow, target, "json", args.connections, args.duration
                    )
                    if through.errors:
                        raise SystemExit(f"{through.errors} calls failed through {name}")
                    added[name].append(
                        (through.p50_ms - direct.p50_ms, through.p99_ms - direct.p99_ms, cpu_us)
                    )
                    print(
                        f"round {index + 1}, {name}: added p50 {added[name][-1][0]:+.2f} ms, "
                        f"p99 {added[name][-1][1]:+.2f} ms (direct p99 {direct.p99_ms:.2f} ms, "
                        f"{cpu_us:.0f} µs CPU a call)",
                        flush=True,
                    )
    spread = f" ± {args.jitter_ms:g}" if args.jitter_ms else ""
    print(
        f"\nmedians of {args.rounds} rounds, c={args.connections}, upstream 20{spread} ms, "
        f"relays' work: {args.work}"
    )
    for name, values in added.items():
        p50 = statistics.median(value[0] for value in values)
        p99 = statistics.median(value[1] for value in values)
        cpu = statistics.median(value[2] for value in values)
        print(f"  {name:<24} added p50 {p50:+.2f} ms, p99 {p99:+.2f} ms, {cpu:.0f} µs CPU a call")


def main() -> None:
    if len(sys.argv) == 7 and sys.argv[1] == "--relay":
        import uvloop

        port, host, upstream_port, cost, kind = sys.argv[2:]
        uvloop.run(_relay(int(port), (host, int(upstream_port)), float(cost), kind))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    parser.add_argument(
        "--costs", default="0,60,140,280", help="the relays' CPU µs a call, comma-separated"
    )
    parser.add_argument("--work", choices=("spin", "python"), default="python")
    parser.add_argument(
        "--jitter-ms", type=float, default=0.0, help="each answer after 20 ms give or take this"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-keyplane", action="store_true", help="the relays alone")
    measure(parser.parse_args())


if __name__ == "__main__":
    main()
