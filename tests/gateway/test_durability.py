"""Metering that survives ``kill -9``, a Redis that forgets, and poisoned usage from upstream."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from gateway.conftest import (
    ExactCall,
    create_key,
    create_project,
    exact_call,
    fire,
    gateway_process,
    metered_cost,
)
from keyplane.testing import UpstreamProcess
from keyplane.usage.records import MAX_TOKENS
from support.postgres import PostgresDatabases
from support.redis_server import redis_server
from support.server import ServerProcess

USAGE = "/v1/organization/usage/completions"
CLIENTS = 8
PROMPT, COMPLETION = 7, 11


async def chat(sdk: openai.AsyncOpenAI, headers: dict[str, str] | None = None) -> None:
    await sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], extra_headers=headers
    )


def usage_of(server: ServerProcess, project_id: str) -> dict[str, int]:
    """Requests and tokens of a project in the usage API."""
    response = httpx.get(
        f"{server.url}{USAGE}",
        params={"start_time": int(time.time()) - 86400, "project_ids": project_id},
        headers={"Authorization": f"Bearer {server.admin_key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    results = [result for bucket in response.json()["data"] for result in bucket["results"]]
    return {
        name: sum(result[name] for result in results)
        for name in ("num_model_requests", "input_tokens", "output_tokens")
    }


def settled_usage(server: ServerProcess, project_id: str, at_least: int) -> dict[str, int]:
    """The project's usage once it holds ``at_least`` requests and stops changing."""
    deadline = time.monotonic() + 15
    last: dict[str, int] = {}
    while time.monotonic() < deadline:
        now = usage_of(server, project_id)
        if now == last and now["num_model_requests"] >= at_least:
            return now
        last = now
        time.sleep(0.5)
    return last


async def clients_until_killed(server: ServerProcess, key: str, kill_after: int) -> int:
    """``CLIENTS`` clients calling as fast as they can; ``kill -9`` once ``kill_after`` calls
    succeeded. Returns how many calls the clients saw succeed."""
    succeeded = 0
    killed = asyncio.Event()
    headers = {"x-test-usage": f"prompt={PROMPT},completion={COMPLETION},cached=0"}

    async def client() -> None:
        nonlocal succeeded
        sdk = openai.AsyncOpenAI(
            base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=10
        )
        async with sdk:
            while not killed.is_set():
                try:
                    await chat(sdk, headers)
                except openai.APIConnectionError:
                    return  # the server is gone
                succeeded += 1
                if succeeded >= kill_after and not killed.is_set():
                    assert server.process is not None
                    server.process.send_signal(signal.SIGKILL)
                    killed.set()

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    assert server.process is not None
    server.process.wait(timeout=10)
    server.process = None
    return succeeded


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    return {"KEYPLANE_DATABASE_URL": await postgres.fresh()}


async def test_kill_9_under_8_clients_loses_no_call_and_counts_none_twice(
    tmp_path: Path, upstream: UpstreamProcess, store_env: dict[str, str]
) -> None:
    server = gateway_process(tmp_path, upstream, KEYPLANE_USAGE_FLUSH_SECONDS="0.2", **store_env)
    server.start()
    try:
        project_id = create_project(server)
        key = create_key(server, project_id)
        seen = 0
        for round_ in range(2):  # killed twice: the second start replays, then dies again
            seen += await clients_until_killed(server, key, kill_after=120 * (round_ + 1) - seen)
            server.start()
        usage = settled_usage(server, project_id, at_least=seen)
    finally:
        server.stop()
    # Each killed round may have had one call per client at upstream whose answer never
    # arrived: metered (it reached upstream) but not seen to succeed.
    assert seen <= usage["num_model_requests"] <= seen + 2 * CLIENTS
    assert usage["input_tokens"] == PROMPT * usage["num_model_requests"]
    assert usage["output_tokens"] == COMPLETION * usage["num_model_requests"]


# --- Redis forgetting everything in the middle of a budget run ---


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own, on a free port, which it may FLUSHALL."""
    with redis_server(tmp_path) as url:
        yield url


def flushall(url: str) -> None:
    port = url.rsplit(":", 1)[1].split("/")[0]
    done = subprocess.run(["redis-cli", "-p", port, "FLUSHALL"], capture_output=True, check=True)
    assert done.stdout == b"OK\n"


@pytest.fixture
async def pair(
    tmp_path: Path, upstream: UpstreamProcess, postgres: PostgresDatabases, own_redis: str
) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    """Two servers on one PostgreSQL and the test's own Redis; usage is flushed only when
    asked (every 60 s otherwise), so unflushed usage is what a re-seed has to find."""
    shared = {
        "KEYPLANE_DATABASE_URL": await postgres.fresh(),
        "KEYPLANE_REDIS_URL": own_redis,
        "KEYPLANE_SECRET_KEY": "shared-test-secret",
        "KEYPLANE_USAGE_FLUSH_SECONDS": "60",
    }
    (tmp_path / "first").mkdir()
    first = gateway_process(tmp_path / "first", upstream, **shared)
    second = ServerProcess(workdir=tmp_path / "second", env=dict(first.env))
    second.workdir.mkdir()
    second.env["KEYPLANE_DATA_DIR"] = str(second.workdir / ".keyplane")
    second.admin_key, second.project_id = first.admin_key, first.project_id
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()


async def fire_across(
    pair: tuple[ServerProcess, ServerProcess], key: str, call: ExactCall, count: int
) -> dict[str, int]:
    clients = [
        openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)
        for server in pair
    ]
    results = await asyncio.gather(
        fire(clients[0], call, count // 2), fire(clients[1], call, count - count // 2)
    )
    for client in clients:
        await client.close()
    return dict(results[0] + results[1])


@pytest.mark.postgres
@pytest.mark.redis
async def test_if_redis_forgets_mid_run_then_two_servers_still_hold_the_budget(
    pair: tuple[ServerProcess, ServerProcess], own_redis: str
) -> None:
    call = exact_call()
    project_id = create_project(pair[0])
    budget = {"limit_usd": 50 * call.cost / 1e6, "period": "day"}
    key = create_key(pair[0], project_id, budget=budget)
    assert await fire_across(pair, key, call, 25) == {"ok": 25}
    flushall(own_redis)
    assert await fire_across(pair, key, call, 100) == {"ok": 25, "insufficient_quota": 75}
    flushall(own_redis)  # and again, with the budget spent
    assert await fire_across(pair, key, call, 10) == {"insufficient_quota": 10}
    assert metered_cost(pair[0], project_id, 50 * call.cost) == 50 * call.cost


# --- one poisoned number from upstream ---


def odd_values_metric(server: ServerProcess) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    [line] = [
        line for line in text.splitlines() if line.startswith("keyplane_usage_odd_values_total")
    ]
    return float(line.split()[-1])


def stored_requests(server: ServerProcess) -> dict[str, tuple[int, int]]:
    """Requests and input tokens per key, read from the SQLite file itself."""
    with sqlite3.connect(server.workdir / ".keyplane" / "keyplane.db") as db:
        rows: list[Any] = db.execute(
            "SELECT api_key_id, SUM(requests), SUM(input_tokens) FROM usage_buckets "
            "WHERE endpoint = 'chat.completions' GROUP BY api_key_id"
        ).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


async def test_a_poisoned_usage_value_is_clamped_and_other_keys_are_still_metered(
    tmp_path: Path, upstream: UpstreamProcess
) -> None:
    server = gateway_process(tmp_path, upstream, KEYPLANE_USAGE_FLUSH_SECONDS="0.2")
    server.start()
    try:
        poisoned_project, healthy_project = create_project(server), create_project(server)
        poisoned = openai.AsyncOpenAI(
            base_url=f"{server.url}/v1", api_key=create_key(server, poisoned_project), max_retries=0
        )
        healthy = openai.AsyncOpenAI(
            base_url=f"{server.url}/v1", api_key=create_key(server, healthy_project), max_retries=0
        )
        poison = {"x-test-usage": f"prompt={10**19},completion=1"}
        await chat(poisoned, poison)
        for _ in range(3):
            await chat(healthy)
        first = settled_usage(server, healthy_project, at_least=3)
        assert first["num_model_requests"] == 3
        prompt = first["input_tokens"] // 3
        assert usage_of(server, poisoned_project)["input_tokens"] == MAX_TOKENS
        assert odd_values_metric(server) == 1
        # Usage still pending at SIGTERM is written by the shutdown: no journal is left.
        server.env["KEYPLANE_USAGE_FLUSH_SECONDS"] = "300"
        server.stop()
        server.start()
        for _ in range(4):
            await chat(poisoned, poison)
            await chat(healthy)
        await poisoned.close()
        await healthy.close()
    finally:
        server.stop()
    assert sorted(stored_requests(server).values()) == [(5, 5 * MAX_TOKENS), (7, 7 * prompt)]
    assert list((server.workdir / ".keyplane" / "journal").iterdir()) == []
    assert "Application shutdown failed" not in server.log_path.read_text()
