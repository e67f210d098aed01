"""Two ``keyplane serve`` processes sharing PostgreSQL and Redis hold one set of limits."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

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
    settled_budget,
)
from keyplane.testing import UpstreamProcess
from support.postgres import PostgresDatabases
from support.redis_server import redis_url
from support.server import ServerProcess

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

Pair = tuple[ServerProcess, ServerProcess]


@pytest.fixture(scope="module")
async def pair(
    tmp_path_factory: pytest.TempPathFactory,
    upstream: UpstreamProcess,
    postgres: PostgresDatabases,
) -> AsyncIterator[Pair]:
    """Two servers on one database and one Redis, initialised once."""
    shared = {
        "KEYPLANE_DATABASE_URL": await postgres.fresh(),
        "KEYPLANE_REDIS_URL": redis_url(),
        "KEYPLANE_SECRET_KEY": "shared-test-secret",
        "KEYPLANE_USAGE_FLUSH_SECONDS": "0.2",
        "KEYPLANE_UPSTREAM_READ_TIMEOUT_SECONDS": "5",
    }
    first = gateway_process(tmp_path_factory.mktemp("first"), upstream, **shared)
    second = ServerProcess(workdir=tmp_path_factory.mktemp("second"), env=dict(first.env))
    second.env["KEYPLANE_DATA_DIR"] = str(Path(second.workdir) / ".keyplane")
    second.admin_key, second.project_id = first.admin_key, first.project_id
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()


async def fire_across(pair: Pair, key: str, call: ExactCall, count: int) -> Counter[str]:
    """``count`` concurrent calls, half to each server."""
    clients = [
        openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)
        for server in pair
    ]
    results = await asyncio.gather(
        fire(clients[0], call, count // 2), fire(clients[1], call, count - count // 2)
    )
    for client in clients:
        await client.close()
    return results[0] + results[1]


async def test_if_two_servers_share_redis_then_60_requests_per_minute_hold_across_both(
    pair: Pair,
) -> None:
    key = create_key(pair[0], rate_limits={"requests_per_minute": 60})
    outcomes = await fire_across(pair, key, exact_call(), 100)
    assert outcomes == {"ok": 60, "rate_limit_exceeded": 40}


async def test_if_two_servers_share_redis_then_a_budget_holds_across_both(pair: Pair) -> None:
    call = exact_call()
    project_id = create_project(pair[0])
    budget = {"limit_usd": 50 * call.cost / 1e6, "period": "day"}
    key = create_key(pair[0], project_id, budget=budget)
    outcomes = await fire_across(pair, key, call, 300)
    assert outcomes == {"ok": 50, "insufficient_quota": 250}
    for server in pair:
        assert settled_budget(server, key)["spent_micro_usd"] == 50 * call.cost
    assert metered_cost(pair[1], project_id, 50 * call.cost) == 50 * call.cost


async def test_if_two_servers_share_redis_then_max_parallel_holds_across_both(
    pair: Pair,
) -> None:
    key = create_key(pair[1], rate_limits={"max_parallel_requests": 4})
    slow = exact_call(headers={"x-test-delay-ms": "1500"})
    outcomes = await fire_across(pair, key, slow, 24)
    assert outcomes == {"ok": 4, "rate_limit_exceeded": 20}
