"""What limits add to a gateway call, measured call by call: a key without limits and a key
with every limit, interleaved one call each, in one process.

    .venv/bin/python bench/limits_interleaved.py [--calls 2000] [--rounds 5] [--memory]

``bench/limits_overhead.py`` measures whole servers under wrk, and on these cores their CPU
per call drifts by a fifth between runs a few seconds apart: one pair of runs cannot tell
1.2x from 1.4x. Here both keys' calls go through ``create_app``'s ASGI app (lifespan, store,
metering, limits on Redis, or in process with ``--memory``; no HTTP server) to the instant
stand-in upstream, alternating one call each, and each call's CPU time is added to its key's.
Drift hits both keys alike, so the gap per call and the ratio hold still from round to round.
What it leaves out is the server: uvicorn's parsing and writes, the same for both keys but
for the six ``x-ratelimit-*`` headers. Not a test: it gates nothing. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import uvloop
from fastapi import FastAPI
from limits_overhead import EVERY_LIMIT
from stack_overhead import SCOPE

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.services.bootstrap import bootstrap
from keyplane.store.database import Database
from keyplane.store.migrate import upgrade_to_head
from keyplane.testing import start_upstream_process

UPSTREAM_KEY = "sk-test-upstream-interleaved"
REDIS_URL = "redis://127.0.0.1:6379/0"
# bench/wrk/chat.lua's body: one user message, max_tokens 16.
BODY = (
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say something short '
    b'about API keys and their rotation"}], "max_tokens": 16}'
)


def scope_for(key: str) -> dict[str, Any]:
    """``stack_overhead.py``'s chat completion call, with ``key`` and this script's body."""
    headers = [
        (b"host", b"keyplane.bench"),
        (b"authorization", b"Bearer " + key.encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ]
    return {**SCOPE, "headers": headers, "state": {}}


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": BODY, "more_body": False}


async def call(app: FastAPI, key: str) -> None:
    """One chat completion with ``key``; anything but a 200 stops the run."""
    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope_for(key), receive, send)
    if status != [200]:
        raise SystemExit(f"a call answered {status}: the run is not measuring what it says")


async def keys(app: FastAPI, brand: str) -> tuple[str, str]:
    """A project key without limits and one with every limit, made through the admin API."""
    booted = await bootstrap(app.state.runtime.database, brand=brand)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://keyplane.bench") as admin:
        made = []
        for extra in ({}, EVERY_LIMIT):
            response = await admin.post(
                f"/v1/organization/projects/{booted.project_id}/api_keys",
                json={"name": "bench", **extra},
                headers={"Authorization": f"Bearer {booted.admin_key}"},
            )
            response.raise_for_status()
            made.append(response.json()["value"])
    return made[0], made[1]


Measure = Callable[[FastAPI, str, str, argparse.Namespace], Awaitable[None]]


async def run(args: argparse.Namespace, measured: Measure | None = None) -> None:
    """Start the app on a fresh store and stand-in, make both keys, and hand them to
    ``measured`` (this script's ``measure`` unless another script brings its own)."""
    workdir = Path(tempfile.mkdtemp(prefix="kp-interleaved-"))
    try:
        with start_upstream_process(api_key=UPSTREAM_KEY, provider="instant") as upstream:
            settings = Settings(
                _env_file=None,
                data_dir=workdir,
                secret_key=secrets.token_urlsafe(32),
                upstream_base_url=upstream.base_url,
                KEYPLANE_UPSTREAM_API_KEY=UPSTREAM_KEY,
                redis_url=None if args.memory else REDIS_URL,
                redis_prefix="kp:bench:" + secrets.token_hex(4),
                log_level="warning",
            )
            database = Database(f"sqlite+aiosqlite:///{workdir / 'keyplane.db'}")
            await upgrade_to_head(database)
            await database.close()
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                await (measured or measure)(app, *await keys(app, settings.key_brand), args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def measure(app: FastAPI, plain: str, limited: str, args: argparse.Namespace) -> None:
    for key in (plain, limited):  # warm both paths, and Redis's scripts and shares
        for _ in range(300):
            await call(app, key)
    clock = time.thread_time
    rounds: list[tuple[float, float]] = []
    for index in range(args.rounds):
        spent = [0.0, 0.0]
        for _ in range(args.calls):
            started = clock()
            await call(app, plain)
            middle = clock()
            await call(app, limited)
            spent[0] += middle - started
            spent[1] += clock() - middle
        without, every = (s / args.calls * 1e6 for s in spent)
        rounds.append((without, every))
        print(
            f"round {index + 1}: no limits {without:.1f} µs, every limit {every:.1f} µs a call: "
            f"+{every - without:.1f} µs, {every / without:.3f}x"
        )
    backend = "in process" if args.memory else "Redis"
    print(
        f"{backend}, medians of {args.rounds} rounds of {args.calls} pairs: no limits "
        f"{statistics.median(w for w, _ in rounds):.1f} µs, every limit "
        f"{statistics.median(e for _, e in rounds):.1f} µs, gap "
        f"{statistics.median(e - w for w, e in rounds):.1f} µs, ratio "
        f"{statistics.median(e / w for w, e in rounds):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="pairs of calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory", action="store_true", help="the in-process backend")
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
