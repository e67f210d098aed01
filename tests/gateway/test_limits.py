"""Limits end to end on one ``keyplane serve`` (in-process backend): budgets and parallel calls
under 300 concurrent SDK calls, the SDK's view of refusals, and ``/v1/keys/verify``."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx
import openai
import pytest

from gateway.conftest import create_key, create_project, exact_call, fire
from keyplane.sdk import Verifier
from support.server import ServerProcess


def sdk(server: ServerProcess, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def verify(server: ServerProcess, key: str, cost: int = 0) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/v1/keys/verify",
        json={"key": key, "cost": cost},
        headers={"Authorization": f"Bearer {server.admin_key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def settled_budget(server: ServerProcess, key: str) -> dict[str, int]:
    """The key's budget once no reservation is outstanding (settling follows the answer)."""
    deadline = time.monotonic() + 5
    while True:
        budget: dict[str, int] = verify(server, key)["limits"][0]["budget"]
        if budget["reserved_micro_usd"] == 0 or time.monotonic() > deadline:
            return budget
        time.sleep(0.05)


def metered_cost(server: ServerProcess, project_id: str, expected: int) -> int:
    """The project's cost from ``/v1/organization/costs``, waiting for the meter to flush."""
    deadline = time.monotonic() + 5
    while True:
        response = httpx.get(
            f"{server.url}/v1/organization/costs",
            params={"start_time": int(time.time()) - 86400, "project_ids": project_id},
            headers={"Authorization": f"Bearer {server.admin_key}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        total = sum(
            result["amount"]["value_micro_usd"]
            for bucket in response.json()["data"]
            for result in bucket["results"]
        )
        if total >= expected or time.monotonic() > deadline:
            return total
        time.sleep(0.1)


async def test_if_300_concurrent_calls_meet_a_budget_for_50_then_exactly_50_succeed(
    gateway: ServerProcess,
) -> None:
    call = exact_call()
    budget_usd = 50 * call.cost / 1_000_000
    project_id = create_project(gateway)
    key = create_key(gateway, project_id, budget={"limit_usd": budget_usd, "period": "day"})
    async with sdk(gateway, key) as client:
        outcomes = await fire(client, call, 300)
    assert outcomes == {"ok": 50, "insufficient_quota": 250}
    budget = settled_budget(gateway, key)
    assert budget["spent_micro_usd"] == 50 * call.cost
    assert budget["remaining_micro_usd"] == 0
    assert metered_cost(gateway, project_id, 50 * call.cost) == 50 * call.cost


async def test_if_a_project_budget_is_spent_then_all_its_keys_are_refused(
    gateway: ServerProcess,
) -> None:
    call = exact_call()
    project_id = create_project(gateway, budget={"limit_usd": 10 * call.cost / 1_000_000})
    keys = [create_key(gateway, project_id) for _ in range(3)]
    clients = [sdk(gateway, key) for key in keys]
    outcomes = sum(
        await asyncio.gather(*(fire(client, call, 20) for client in clients)),
        start=Counter(),
    )
    assert outcomes == {"ok": 10, "insufficient_quota": 50}
    assert metered_cost(gateway, project_id, 10 * call.cost) == 10 * call.cost


async def test_if_calls_overlap_then_at_most_max_parallel_succeed(
    gateway: ServerProcess,
) -> None:
    key = create_key(gateway, rate_limits={"max_parallel_requests": 5})
    slow = exact_call(**{"x-test-delay-ms": "1500"})
    async with sdk(gateway, key) as client:
        outcomes = await fire(client, slow, 30)
        assert outcomes == {"ok": 5, "rate_limit_exceeded": 25}
        # Every slot is given back when its call ends.
        assert await fire(client, exact_call(), 5) == {"ok": 5}


def test_if_rate_limited_then_sdk_raises_rate_limit_error_with_headers(
    gateway: ServerProcess,
) -> None:
    key = create_key(gateway, rate_limits={"requests_per_minute": 2, "tokens_per_minute": 100_000})
    call = exact_call()
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(**call.body, extra_headers=call.headers)
    tokens = int(call.headers["x-test-usage"].split(",")[0].split("=")[1]) + 10
    assert raw.headers["x-ratelimit-limit-requests"] == "2"
    assert raw.headers["x-ratelimit-remaining-requests"] == "1"
    assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
    assert raw.headers["x-ratelimit-limit-tokens"] == "100000"
    assert raw.headers["x-ratelimit-remaining-tokens"] == str(100_000 - tokens)
    assert raw.headers["x-ratelimit-reset-tokens"].endswith("s")
    assert raw.parse().usage is not None
    client.chat.completions.create(**call.body, extra_headers=call.headers)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(**call.body, extra_headers=call.headers)
    error = refused.value
    assert error.code == "rate_limit_exceeded"
    assert "requests per minute" in error.message and "try again in" in error.message
    headers = error.response.headers
    assert 1 <= int(headers["retry-after"]) <= 61
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    assert headers["x-ratelimit-limit-tokens"] == "100000"


def test_if_tokens_per_minute_are_spent_then_sdk_raises_rate_limit_error(
    gateway: ServerProcess,
) -> None:
    call = exact_call(max_tokens=100)
    key = create_key(gateway, rate_limits={"tokens_per_minute": 250})
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)
    client.chat.completions.create(**call.body, extra_headers=call.headers)
    client.chat.completions.create(**call.body, extra_headers=call.headers)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(**call.body, extra_headers=call.headers)
    assert refused.value.code == "rate_limit_exceeded"
    assert "tokens per minute" in refused.value.message
    assert refused.value.response.headers["x-ratelimit-limit-tokens"] == "250"


def test_if_budget_is_spent_then_sdk_raises_insufficient_quota_saying_when_it_resets(
    gateway: ServerProcess,
) -> None:
    call = exact_call()
    key = create_key(gateway, budget={"limit_usd": call.cost / 1_000_000, "period": "month"})
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)
    client.chat.completions.create(**call.body, extra_headers=call.headers)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(**call.body, extra_headers=call.headers)
    assert refused.value.code == "insufficient_quota"
    assert "month budget" in refused.value.message and "resets at" in refused.value.message
    assert int(refused.value.response.headers["retry-after"]) >= 1


def test_if_verify_has_a_cost_then_it_consumes_requests_per_minute(
    gateway: ServerProcess,
) -> None:
    key = create_key(gateway, rate_limits={"requests_per_minute": 5})
    first = verify(gateway, key, cost=2)
    assert first["valid"] is True and first["code"] == "VALID"
    assert first["limits"][0]["requests"] == {
        "limit": 5,
        "remaining": 3,
        "reset_seconds": pytest.approx(60, abs=1.5),
    }
    assert verify(gateway, key)["limits"][0]["requests"]["remaining"] == 3  # cost 0 only looks
    assert verify(gateway, key, cost=3)["valid"] is True
    refused = verify(gateway, key, cost=1)
    assert refused["valid"] is False and refused["code"] == "RATE_LIMITED"
    assert refused["retry_after_seconds"] >= 1
    assert refused["limits"][0]["requests"]["remaining"] == 0


def test_if_budget_is_spent_then_verify_answers_usage_exceeded(gateway: ServerProcess) -> None:
    call = exact_call()
    key = create_key(gateway, budget={"limit_usd": call.cost / 1_000_000, "period": "day"})
    assert verify(gateway, key, cost=1)["valid"] is True  # a verification has no price
    openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0).chat.completions.create(
        **call.body, extra_headers=call.headers
    )
    answer = verify(gateway, key, cost=1)
    assert answer["valid"] is False and answer["code"] == "USAGE_EXCEEDED"
    assert answer["limits"][0]["budget"] == {
        "limit_micro_usd": call.cost,
        "spent_micro_usd": call.cost,
        "reserved_micro_usd": 0,
        "remaining_micro_usd": 0,
    }


def test_sdk_verifier_sees_rate_limited_and_usage_exceeded(gateway: ServerProcess) -> None:
    call = exact_call()
    limited = create_key(gateway, rate_limits={"requests_per_minute": 1})
    budgeted = create_key(gateway, budget={"limit_usd": call.cost / 1_000_000})
    openai.OpenAI(
        base_url=f"{gateway.url}/v1", api_key=budgeted, max_retries=0
    ).chat.completions.create(**call.body, extra_headers=call.headers)
    with Verifier(gateway.url, gateway.admin_key, env_file=None) as verifier:
        assert verifier.verify(limited, cost=1).valid is True
        refused = verifier.verify(limited, cost=1)
        assert (refused.valid, refused.code) == (False, "RATE_LIMITED")
        assert refused.model_extra is not None and refused.model_extra["retry_after_seconds"] >= 1
        spent = verifier.verify(budgeted, cost=1)
        assert (spent.valid, spent.code) == (False, "USAGE_EXCEEDED")
