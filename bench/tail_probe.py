"""Where keyplane's p99 comes from: event-loop stalls, collector pauses and periodic slow calls.

    .venv/bin/python bench/tail_probe.py [--duration 5] [--rounds 2] [--delay-ms 20] [--no-gc]
        [--upstream instant|full]

Runs the load of ``bench/gateway_overhead.py --tail-rounds`` (non-streaming chat, 32
connections, a stand-in upstream answering after ``--delay-ms``) straight to the upstream and
through a ``keyplane serve`` that this script wraps (``--serve``, below) with three probes:

- a loop tick every millisecond: a tick late by more than ``STALL_MS`` is a stall, and a
  watchdog thread samples the main thread's stack while it lasts (what was running);
- ``gc.callbacks``: every collection that took more than 2 ms, by generation;
- the call log (``KEYPLANE_LOG_FORMAT=json``): each call's latency inside keyplane, so slow
  calls can be grouped by the 100 ms they ended in (a periodic cause shows as a comb);
- phases: for each call, when its head began to be parsed, when its request was written to
  the upstream, when the upstream's answer began to arrive, and when the answer was written
  to the client. "in" and "out" are keyplane's two turns on the call, and "ahead" counts the
  calls keyplane was busy with (in either turn) when a call came in: the queue it met.

Prints wrk's p50/p99 direct and through keyplane (with the server's CPU by thread and how
often it was preempted, and the phases of that round), keyplane's own percentiles, the windows
holding most slow calls, the stalls with their stacks, and the collections. Not a test; the
probes cost a little CPU, so read its figures beside ``gateway_overhead.py``'s, not for them.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import contextvars
import gc
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

STALL_MS = 5.0
HERE = Path(__file__).resolve().parent


class Probes:
    """The probes, inside the server process."""

    def __init__(self) -> None:
        self.main_thread = threading.get_ident()
        self.tick = time.perf_counter()
        self.stalls: list[float] = []
        self.stacks: collections.Counter[str] = collections.Counter()
        self.pauses: list[tuple[int, float]] = []
        self.gc_started = 0.0
        self.collected = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}  # generation: count, ms

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.gc_started = time.perf_counter()
        else:
            took = time.perf_counter() - self.gc_started
            every = self.collected[info["generation"]]
            every[0] += 1
            every[1] += took * 1000
            if took > 0.002:
                self.pauses.append((info["generation"], round(took * 1000, 1)))

    def ticker(self) -> None:
        now = time.perf_counter()
        if (late := (now - self.tick) * 1000) > STALL_MS:
            self.stalls.append(round(late, 1))
        self.tick = now
        asyncio.get_running_loop().call_later(0.001, self.ticker)

    def watchdog(self) -> None:
        sampled = False
        while True:
            time.sleep(0.001)
            late = (time.perf_counter() - self.tick) * 1000
            if late > STALL_MS and not sampled:
                sampled = True
                frame = sys._current_frames().get(self.main_thread)
                lines = traceback.extract_stack(frame)[-12:] if frame else []
                self.stacks["\n".join(f"    {f.filename}:{f.lineno} {f.name}" for f in lines)] += 1
            elif late < STALL_MS / 2:
                sampled = False

    def dump(self, *_: object) -> None:
        report = {
            "stalls": self.stalls,
            "stacks": self.stacks.most_common(12),
            "gc": self.pauses,
            "collected": self.collected,
        }
        Path(os.environ["TAIL_PROBE_OUT"]).write_text(json.dumps(report))


class Phases:
    """Each call's four times (perf_counter): head begun, sent upstream, answer begun, answered.

    Patched into the server's protocol and the upstream connection; a call is followed by a
    context variable that its ASGI task inherits. SIGUSR2 writes the finished calls to
    ``$TAIL_PROBE_OUT.phases`` and forgets them (one round each).
    """

    def __init__(self) -> None:
        self.calls: list[list[float]] = []
        self.current: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
            "tail_probe_call", default=None
        )

    def install(self) -> None:
        from keyplane.gateway import http1
        from keyplane.http import connections

        clock, current, calls = time.perf_counter, self.current, self.calls
        protocol, joined, upstream = (
            connections._DeadlineProtocol,
            connections.OneWritePerTurn,
            http1.Connection,
        )
        begin, headers, send = (
            protocol.on_message_begin,
            protocol.on_headers_complete,
            upstream.send,
        )
        received, flush = upstream.data_received, joined.flush

        def on_message_begin(self: Any) -> None:
            self.tail_probe_begun = clock()
            begin(self)

        def on_headers_complete(self: Any) -> None:
            token = current.set([self.tail_probe_begun, 0.0, 0.0, 0.0])
            try:
                headers(self)  # creates the call's task, which copies the context
            finally:
                current.reset(token)

        def sent(self: Any, data: bytes, read_timeout: float) -> Any:
            if (call := current.get()) is not None:
                call[1] = clock()
            self.tail_probe_call = call
            return send(self, data, read_timeout)

        def data_received(self: Any, data: bytes) -> None:
            call = getattr(self, "tail_probe_call", None)
            if call is not None and not call[2]:
                call[2] = clock()
            received(self, data)

        def flushed(self: Any) -> None:
            flush(self)
            if (call := current.get()) is not None and call[2] and not call[3]:
                call[3] = clock()
                calls.append(call)

        protocol.on_message_begin = on_message_begin  # type: ignore[method-assign]
        protocol.on_headers_complete = on_headers_complete  # type: ignore[method-assign]
        upstream.send = sent  # type: ignore[method-assign]
        upstream.data_received = data_received  # type: ignore[method-assign]
        joined.flush = flushed  # type: ignore[method-assign]

    def dump(self, *_: object) -> None:
        Path(os.environ["TAIL_PROBE_OUT"] + ".phases").write_text(json.dumps(self.calls))
        self.calls.clear()


def serve() -> None:
    """``keyplane serve`` with the probes; SIGUSR1 writes them to ``$TAIL_PROBE_OUT``."""
    import uvicorn.config
    import uvloop

    probes = Probes()

    def loop_factory(_config: object) -> Any:
        def make() -> asyncio.AbstractEventLoop:
            loop = uvloop.new_event_loop()
            loop.call_soon(probes.ticker)
            return loop

        return make

    gc.callbacks.append(probes.on_gc)
    if os.environ.get("TAIL_PROBE_NO_GC"):
        gc.disable()  # the app's own collect-and-freeze at start still runs
    threading.Thread(target=probes.watchdog, daemon=True).start()
    signal.signal(signal.SIGUSR1, probes.dump)
    phases = Phases()
    phases.install()
    signal.signal(signal.SIGUSR2, phases.dump)
    uvicorn.config.Config.get_loop_factory = loop_factory  # type: ignore[method-assign]
    from keyplane.cli.main import main

    sys.argv = ["keyplane", "serve"]
    main()


def _threads(pid: int) -> dict[str, tuple[int, int]]:
    """CPU ticks and involuntary context switches of each thread of ``pid``."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        status = (task / "status").read_text()
        switches = int(status.split("nonvoluntary_ctxt_switches:")[1].split()[0])
        found[task.name] = (int(fields[11]) + int(fields[12]), switches)
    return found


def _threads_line(pid: int, before: dict[str, tuple[int, int]], seconds: float) -> str:
    after = _threads(pid)
    ticks = os.sysconf("SC_CLK_TCK")
    main = str(pid)
    busy = {t: (after[t][0] - before.get(t, (0, 0))[0]) / ticks / seconds for t in after}
    preempted = sum(after[t][1] - before.get(t, (0, 0))[1] for t in after) / seconds
    others = sum(v for t, v in busy.items() if t != main)
    return (
        f"  server: event-loop thread {busy[main]:.0%} of a core, other threads {others:.0%}; "
        f"{preempted:.0f} involuntary context switches/s"
    )


def _quantiles(values: list[float]) -> str:
    ordered = sorted(values)
    at = [ordered[min(len(ordered) - 1, int(len(ordered) * q))] for q in (0.5, 0.9, 0.99)]
    return "p50 {:.2f} p90 {:.2f} p99 {:.2f}".format(*at)


def _phases_lines(calls: list[list[float]]) -> list[str]:
    """keyplane's turns on each call (ms), the upstream's time, and the queue a call met."""
    if not calls:
        return ["  phases: no calls"]
    starts = sorted([c[0] for c in calls] + [c[2] for c in calls])
    ends = sorted([c[1] for c in calls] + [c[3] for c in calls])
    # The turns begun before a call came in and not over by then (a turn ends after it begins).
    ahead = [
        float(bisect.bisect_left(starts, c[0]) - bisect.bisect_right(ends, c[0])) for c in calls
    ]
    return [
        f"  phases of {len(calls)} calls, ms: in {_quantiles([(c[1] - c[0]) * 1e3 for c in calls])}"
        f"; out {_quantiles([(c[3] - c[2]) * 1e3 for c in calls])}",
        f"  upstream as keyplane saw it {_quantiles([(c[2] - c[1]) * 1e3 for c in calls])}; "
        f"calls keyplane was busy with when one came in: {_quantiles(ahead)}",
    ]


def _latencies(log: Path) -> list[tuple[str, float]]:
    calls = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if "latency_ms" in entry:
            calls.append((entry["time"][11:23], float(entry["latency_ms"])))
    return calls


def drive(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE))
    from gateway_overhead import UPSTREAM_KEY, Keyplane, warm, wrk

    from keyplane.testing import start_upstream_process

    class Probed(Keyplane):
        def _command(self) -> list[str]:
            return [sys.executable, str(Path(__file__).resolve()), "--serve"]

    provider = "instant" if args.upstream == "instant" else "openai"
    with start_upstream_process(
        api_key=UPSTREAM_KEY, delay_ms=args.delay_ms, provider=provider
    ) as upstream:
        server = Probed(upstream, "uvicorn")
        out = server.workdir / "probe.json"
        server.env |= {
            "KEYPLANE_LOG_LEVEL": "info",
            "KEYPLANE_LOG_FORMAT": "json",
            "TAIL_PROBE_OUT": str(out),
        }
        if args.no_gc:
            server.env["TAIL_PROBE_NO_GC"] = "1"
        server.start()
        try:
            warm(server)
            for _ in range(args.rounds):
                direct = wrk(upstream.base_url, "json", connections=32, duration=args.duration,
                             key=UPSTREAM_KEY)  # fmt: skip
                before = _threads(server.pid)
                through = wrk(f"{server.url}/v1", "json", connections=32,
                              duration=args.duration, key=server.key)  # fmt: skip
                print(
                    f"direct p50 {direct.p50_ms:.2f} p99 {direct.p99_ms:.2f} ms; keyplane p50 "
                    f"{through.p50_ms:.2f} p99 {through.p99_ms:.2f} ms "
                    f"(added p99 {through.p99_ms - direct.p99_ms:+.2f} ms)"
                )
                print(_threads_line(server.pid, before, args.duration))
                os.kill(server.pid, signal.SIGUSR2)
                time.sleep(0.5)
                print("\n".join(_phases_lines(json.loads(Path(f"{out}.phases").read_text()))))
            os.kill(server.pid, signal.SIGUSR1)
            time.sleep(1)
            report = json.loads(out.read_text())
            calls = _latencies(server.workdir / "server.log")
        finally:
            server.stop()
    _print(report, calls, args.delay_ms)


def _print(report: dict[str, Any], calls: list[tuple[str, float]], delay_ms: float) -> None:
    latencies = sorted(latency for _, latency in calls)
    if latencies:
        shown = ", ".join(
            f"p{q:g} {latencies[int(len(latencies) * q / 100)]:.1f}" for q in (50, 90, 99, 99.9)
        )
        print(f"inside keyplane, {len(latencies)} calls: {shown} ms")
    slow = collections.Counter(when[:10] for when, latency in calls if latency > delay_ms + 3)
    print(f"calls over {delay_ms + 3:g} ms by the 100 ms they ended in (most first):")
    for window, count in slow.most_common(8):
        print(f"  {window}x: {count}")
    stalls = report["stalls"]
    print(f"loop stalls > {STALL_MS:g} ms: {len(stalls)}, longest {sorted(stalls)[-8:]}")
    for stack, count in report["stacks"]:
        print(f"  seen {count}x:\n{stack}")
    print(f"collections > 2 ms (generation, ms): {report['gc']}")
    for generation, (count, ms) in sorted(report["collected"].items()):
        print(f"  generation {generation}: {count} collections, {ms:.0f} ms in all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="store_true", help="(internal) the probed server")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--no-gc", action="store_true", help="the server with gc.disable()")
    parser.add_argument(
        "--upstream",
        choices=("instant", "full"),
        default="instant",
        help="the instant stand-in on a timer (as gateway_overhead.py's tail), or the ASGI one",
    )
    args = parser.parse_args()
    if args.serve:
        serve()
    else:
        drive(args)


if __name__ == "__main__":
    main()
