"""How fast keys are verified: ``Verifier`` with a warm cache, with the cache off, and direct.

Starts a local ``keyplane serve`` on SQLite in a temporary directory (or uses ``--url`` and
``--admin-key``), issues one key, then for ``--seconds`` each counts verifications per second:

- direct: ``POST /v1/keys/verify`` with a bare ``httpx.Client`` (the baseline);
- cache off: ``Verifier(cache_ttl=0)``, a round trip each time plus the SDK's local checks;
- warm cache: ``Verifier()`` with its default 5 s cache, after one verification.

One client thread, keep-alive connections; the three take turns in rounds, so load that
drifts hits all alike. Prints each rate and its ratio to direct. Not a test.

    .venv/bin/python bench/verify_speed.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from keyplane.sdk import Client, Verifier


def timed(verify: Callable[[], bool], seconds: float) -> tuple[int, float]:
    """(verifications, elapsed seconds) over about ``seconds``; each must come back valid."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            if not verify():
                raise SystemExit("a verification came back invalid; the numbers would lie")
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return count, now - start


def rates(ways: dict[str, Callable[[], bool]], seconds: float, rounds: int = 3) -> dict[str, float]:
    """Verifications per second of each way, measured in turns."""
    totals = {name: [0, 0.0] for name in ways}
    for _ in range(rounds):
        for name, verify in ways.items():
            count, elapsed = timed(verify, seconds / rounds)
            totals[name][0] += count
            totals[name][1] += elapsed
    return {name: count / elapsed for name, (count, elapsed) in totals.items()}


@contextmanager
def local_server() -> Iterator[tuple[str, str]]:
    """A fresh ``keyplane serve`` in a temporary directory: (url, admin key)."""
    with tempfile.TemporaryDirectory(prefix="keyplane-bench-") as workdir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYPLANE_")}
        env.update(KEYPLANE_DATA_DIR=str(Path(workdir) / "data"), KEYPLANE_LOG_LEVEL="warning")
        keyplane = [sys.executable, "-m", "keyplane"]
        init = subprocess.run(
            [*keyplane, "init", "--json"], cwd=workdir, env=env, capture_output=True, check=True
        )
        admin_key = json.loads(init.stdout)["admin_key"]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [*keyplane, "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url)
            yield url, admin_key
        finally:
            server.terminate()
            server.wait(timeout=15)


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"the server at {url} did not become ready")


def measure(url: str, admin_key: str, seconds: float) -> dict[str, float]:
    with Client(url, admin_key, env_file=None) as admin:
        project = admin.projects.create("verify benchmark")
        key = admin.keys.create(project.id, name="bench").value.get_secret_value()
    headers = {"Authorization": f"Bearer {admin_key}"}
    with (
        httpx.Client(base_url=url, headers=headers) as http,
        Verifier(url, admin_key, cache_ttl=0, env_file=None) as cold,
        Verifier(url, admin_key, env_file=None) as warm,
    ):
        warm.verify(key)
        return rates(
            {
                "direct /v1/keys/verify": lambda: bool(
                    http.post("/v1/keys/verify", json={"key": key}).json()["valid"]
                ),
                "Verifier, cache off": lambda: cold.verify(key).valid,
                "Verifier, warm cache": lambda: warm.verify(key).valid,
            },
            seconds,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--url", help="an existing server (default: start one)")
    parser.add_argument("--admin-key", help="an admin key of that server")
    args = parser.parse_args()
    if args.url:
        if not args.admin_key:
            parser.error("--url needs --admin-key")
        measured = measure(args.url, args.admin_key, args.seconds)
    else:
        with local_server() as (url, admin_key):
            measured = measure(url, admin_key, args.seconds)
    baseline = measured["direct /v1/keys/verify"]
    for name, value in measured.items():
        print(f"{name:<24} {value:>12,.0f} verifications/s   {value / baseline:>8.2f}x direct")


if __name__ == "__main__":
    main()
