"""What OpenTelemetry traces cost a gateway call: keyplane with traces off and on, in one run.

    .venv/bin/python bench/tracing_overhead.py [--duration 5] [--rounds 3]

Three ``keyplane serve`` processes (SQLite, an issued project key, metering on) in front of
the instant stand-in upstream (``keyplane.testing.instant``): one as shipped
(``KEYPLANE_OTEL_TRACES`` unset), one with ``KEYPLANE_OTEL_TRACES=true`` exporting over
OTLP/HTTP to a receiver in this process that answers 200 to every batch and counts the bytes,
and one that also samples one call in ten with the SDK's own ``OTEL_TRACES_SAMPLER``.
wrk sends non-streaming chat completions at 32 connections to each in turn, ``--rounds``
times; prints keyplane's CPU µs per call (utime + stime of its process, over the run) and
requests/s, medians of the rounds, and the spans' bytes received. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_overhead import UPSTREAM_KEY, Keyplane, alternate, running

from keyplane.testing import start_upstream_process


class Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that accepts everything: only the bytes are counted."""

    received = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        Receiver.received += len(self.rfile.read(length))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{receiver.server_address[1]}"
    with start_upstream_process(api_key=UPSTREAM_KEY, provider="instant") as upstream:
        servers = {name: Keyplane(upstream, "uvicorn") for name in ("off", "on", "10%")}
        for name in ("on", "10%"):
            servers[name].env |= {
                "KEYPLANE_OTEL_TRACES": "true",
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            }
        # The SDK's own sampling variables: one call in ten traced.
        sampled = {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
        servers["10%"].env |= sampled
        with running(servers):
            measured = alternate(
                servers, rounds=args.rounds, duration=args.duration, connections=32
            )
            time.sleep(6)  # the batch processor exports every 5 s
        receiver.shutdown()
    cpu, rps = measured.cpu_us, measured.rps
    for name in servers:
        print(
            f"traces {name:3}: CPU {statistics.median(cpu[name]):.0f} us per call "
            f"(rounds {', '.join(f'{v:.0f}' for v in cpu[name])}), "
            f"{statistics.median(rps[name]):.0f} requests/s"
        )
    for name in ("on", "10%"):
        extra = statistics.median(cpu[name]) - statistics.median(cpu["off"])
        print(f"traces {name} cost {extra:+.1f} us per call")
    print(f"the receiver got {Receiver.received:,} bytes of spans")


if __name__ == "__main__":
    main()
