"""Slow clients against a real ``keyplane serve``: what they hold, and what /healthz costs then.

    .venv/bin/python bench/slow_clients.py [--connections 800]

Starts ``keyplane serve`` twice on SQLite in a temporary directory: once as good as with
uvicorn's own handling of request heads (``KEYPLANE_HTTP_HEAD_TIMEOUT_SECONDS=300``, the
most allowed, longer than the run) and once with keyplane's defaults. Each time it opens
``--connections`` connections that send half a request head and stop, then prints /healthz
latency before and during the attack (p50 and p99 of 200 sequential calls, and the ratio),
and how many of the slow connections the server still holds 8 s later. Not a test; the
machine is shared, so latencies are noisy.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(workdir: Path, **extra: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYPLANE_", "OPENAI_"))}
    env.update(KEYPLANE_DATA_DIR=str(workdir / ".keyplane"), **extra)
    port = _free_port()
    subprocess.run(
        [sys.executable, "-m", "keyplane", "init"],
        env=env,
        cwd=workdir,
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "keyplane", "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


def _latencies(url: str) -> tuple[float, float]:
    samples = []
    with httpx.Client(timeout=10) as client:
        for _ in range(200):
            started = time.perf_counter()
            client.get(f"{url}/healthz", headers={"Connection": "close"})
            samples.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49], cuts[98]


def _still_open(sockets: list[socket.socket]) -> int:
    held = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            held += sock.recv(1) != b""
        except BlockingIOError:
            held += 1
        except OSError:
            pass
    return held


def _attack(label: str, connections: int, **extra: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        process, url = _serve(Path(directory), **extra)
        try:
            before = _latencies(url)
            port = int(url.rsplit(":", 1)[1])
            slow = []
            for _ in range(connections):
                sock = socket.create_connection(("127.0.0.1", port))
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: keyplane.test\r\n")
                slow.append(sock)
            during = _latencies(url)
            time.sleep(8)
            held = _still_open(slow)
            for sock in slow:
                sock.close()
        finally:
            process.terminate()
            process.wait(15)
    print(f"{label}:")
    print(
        f"  /healthz p50 {before[0]:.2f} ms -> {during[0]:.2f} ms ({during[0] / before[0]:.2f}x),"
        f" p99 {before[1]:.2f} ms -> {during[1]:.2f} ms ({during[1] / before[1]:.2f}x)"
    )
    print(f"  slow connections still held after 8 s: {held} of {connections}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=800)
    connections = parser.parse_args().connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, connections + 256)), hard))
    _attack(
        "uvicorn's own head handling (no head deadline)",
        connections,
        KEYPLANE_HTTP_HEAD_TIMEOUT_SECONDS="300",
        KEYPLANE_HTTP_MAX_CONNECTIONS="100000",
    )
    _attack("keyplane's defaults (5 s head deadline)", connections)


if __name__ == "__main__":
    main()
