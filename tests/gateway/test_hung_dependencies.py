"""A hung PostgreSQL or Redis (reachable, silent) costs a call about two seconds and a 503,
turns ``/readyz`` unready, and everything recovers by itself once it answers again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.conftest import UPSTREAM_KEY, create_key
from keyplane.testing import UpstreamProcess
from support.postgres import PostgresDatabases
from support.proxy import PausableProxy, pausable_proxy
from support.redis_server import redis_port
from support.server import ServerProcess, server_env

# The store's and Redis's deadlines are two seconds; this is the slack for a busy machine.
WITHIN_SECONDS = 6.0
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _timed(call: httpx.Request, client: httpx.Client) -> tuple[int, float]:
    started = time.monotonic()
    response = client.send(call)
    return response.status_code, time.monotonic() - started


def _gateway_call(server: ServerProcess, key: str) -> httpx.Request:
    return httpx.Request(
        "POST",
        f"{server.url}/v1/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {key}"},
    )


def _admin_call(server: ServerProcess) -> httpx.Request:
    return httpx.Request(
        "GET",
        f"{server.url}/v1/organization/projects",
        headers={"Authorization": f"Bearer {server.admin_key}"},
    )


def _recovers(server: ServerProcess, key: str, client: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    statuses: tuple[int, ...] = ()
    while time.monotonic() < deadline:
        statuses = (
            client.get(f"{server.url}/readyz").status_code,
            client.send(_gateway_call(server, key)).status_code,
            client.send(_admin_call(server)).status_code,
        )
        if statuses == (200, 200, 200):
            return
        time.sleep(0.2)
    raise AssertionError(f"still failing after the dependency came back: {statuses}")


def _serve(workdir: Path, upstream: UpstreamProcess, **extra: str) -> ServerProcess:
    env = server_env(
        workdir,
        KEYPLANE_UPSTREAM_BASE_URL=upstream.base_url,
        KEYPLANE_UPSTREAM_API_KEY=UPSTREAM_KEY,
        # Every call asks the store, so a hang shows at once rather than after a cache hit.
        KEYPLANE_KEY_CACHE_TTL_SECONDS="0",
        **extra,
    )
    server = ServerProcess(workdir=workdir, env=env)
    server.init()
    server.env["KEYPLANE_URL"] = server.url
    server.start()
    return server


@pytest.fixture
def postgres_proxy(postgres: PostgresDatabases) -> Iterator[tuple[PausableProxy, str]]:
    url = asyncio.run(postgres.fresh())
    with pausable_proxy("127.0.0.1", 5432) as proxy:
        yield proxy, url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")


@pytest.mark.postgres
@pytest.mark.slow
def test_if_postgres_hangs_then_503_within_seconds_and_recovery_by_itself(
    tmp_path: Path, upstream: UpstreamProcess, postgres_proxy: tuple[PausableProxy, str]
) -> None:
    proxy, url = postgres_proxy
    server = _serve(tmp_path, upstream, KEYPLANE_DATABASE_URL=url)
    try:
        key = create_key(server)
        with httpx.Client(timeout=60) as client:
            assert client.send(_gateway_call(server, key)).status_code == 200
            proxy.pause()
            for request in (
                _gateway_call(server, key),
                _admin_call(server),
                client.build_request("GET", f"{server.url}/readyz"),
            ):
                status, seconds = _timed(request, client)
                assert (request.url.path, status) == (request.url.path, 503)
                assert seconds < WITHIN_SECONDS, f"{request.url.path} took {seconds:.1f} s"
            proxy.resume()
            _recovers(server, key, client)
    finally:
        proxy.resume()
        server.stop()


@pytest.mark.redis
@pytest.mark.slow
def test_if_redis_hangs_then_limited_calls_get_503_within_seconds_and_recover(
    tmp_path: Path, upstream: UpstreamProcess
) -> None:
    with pausable_proxy("127.0.0.1", redis_port()) as proxy:
        server = _serve(tmp_path, upstream, KEYPLANE_REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0")
        try:
            key = create_key(server, rate_limits={"requests_per_minute": 1000})
            with httpx.Client(timeout=60) as client:
                assert client.send(_gateway_call(server, key)).status_code == 200
                proxy.pause()
                # Calls may still be admitted from this second's share of the limit, taken
                # before Redis hung (keyplane.limits.shares); the next second's needs Redis.
                paused = time.monotonic()
                statuses = []
                while 503 not in statuses and time.monotonic() - paused < 2 * WITHIN_SECONDS:
                    status, seconds = _timed(_gateway_call(server, key), client)
                    assert seconds < WITHIN_SECONDS, f"the gateway took {seconds:.1f} s"
                    statuses.append(status)
                assert set(statuses) <= {200, 503}
                assert statuses[-1] == 503
                refused_after = time.monotonic() - paused
                assert refused_after < 1 + WITHIN_SECONDS, f"first 503 after {refused_after:.1f} s"
                proxy.resume()
                _recovers(server, key, client)
        finally:
            proxy.resume()
            server.stop()
