"""Limits end to end on one ``keyplane serve`` (in-process backend): budgets and parallel calls
under 300 concurrent SDK calls, the SDK's view of refusals, and ``/v1/keys/verify``."""

from __future__ import annotations

import asyncio
from collections import Counter

import openai
import pytest

from gateway.conftest import (
    LIMITS_MODEL,
    create_key,
    create_project,
    exact_call,
    fire,
    metered_cost,
    settled_budget,
    verify_key,
)
from keyplane.sdk import Verifier
from keyplane.usage.prices import PriceTable
from support.server import ServerProcess


def sdk(server: ServerProcess, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)


def sync_sdk(server: ServerProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)


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


async def test_if_calls_use_more_than_reserved_then_overshoot_is_bounded_by_calls_in_flight(
    gateway: ServerProcess,
) -> None:
    call = exact_call()
    prompt, output = (
        int(part.split("=")[1]) for part in call.headers["x-test-usage"].split(",")[:2]
    )
    heavy = exact_call(
        headers={"x-test-usage": f"prompt={3 * prompt},completion={3 * output},cached=0"}
    )
    price = PriceTable.load().price(LIMITS_MODEL)
    assert price is not None
    actual = price.cost(input_tokens=3 * prompt, cached_tokens=0, output_tokens=3 * output)
    budget = 50 * call.cost
    key = create_key(gateway, budget={"limit_usd": budget / 1e6, "period": "day"})
    async with sdk(gateway, key) as client:
        outcomes = await fire(client, heavy, 100)
    admitted = outcomes["ok"]
    spent = settled_budget(gateway, key)["spent_micro_usd"]
    assert 0 < admitted <= 50 and outcomes["insufficient_quota"] == 100 - admitted
    assert spent == admitted * actual
    # Refusals came once spend + reservations left no room for one more call; overshoot is
    # at most what the admitted calls used beyond their reservations.
    assert budget - call.cost < spent <= budget + admitted * (actual - call.cost)


async def test_if_a_project_budget_is_spent_then_all_its_keys_are_refused(
    gateway: ServerProcess,
) -> None:
    call = exact_call()
    project_id = create_project(gateway, budget={"limit_usd": 10 * call.cost / 1_000_000})
    clients = [sdk(gateway, create_key(gateway, project_id)) for _ in range(3)]
    try:
        results = await asyncio.gather(*(fire(client, call, 20) for client in clients))
    finally:
        # An unclosed client's sockets are closed by the garbage collector behind the event
        # loop's back, and a later socket given the same fd number is then never polled.
        for client in clients:
            await client.close()
    outcomes = sum(results, start=Counter())
    assert outcomes == {"ok": 10, "insufficient_quota": 50}
    assert metered_cost(gateway, project_id, 10 * call.cost) == 10 * call.cost


async def test_if_streamed_calls_meet_a_budget_then_they_settle_to_their_real_cost(
    gateway: ServerProcess,
) -> None:
    call = exact_call()
    key = create_key(gateway, budget={"limit_usd": 5 * call.cost / 1_000_000, "period": "day"})

    async def stream(client: openai.AsyncOpenAI) -> str:
        try:
            chunks = await client.chat.completions.create(
                **call.body, extra_headers=call.headers, stream=True
            )
            async for _ in chunks:
                pass
        except openai.RateLimitError as error:
            return str(error.code)
        return "ok"

    async with sdk(gateway, key) as client:
        outcomes = Counter(await asyncio.gather(*(stream(client) for _ in range(40))))
    assert outcomes == {"ok": 5, "insufficient_quota": 35}
    assert settled_budget(gateway, key)["spent_micro_usd"] == 5 * call.cost


async def test_if_upstream_fails_then_the_reservation_is_given_back(
    gateway: ServerProcess,
) -> None:
    call = exact_call()
    key = create_key(gateway, budget={"limit_usd": 2 * call.cost / 1_000_000, "period": "day"})
    failing = exact_call(headers={"x-test-status": "500"})
    async with sdk(gateway, key) as client:
        assert await fire(client, failing, 2) == {"500": 2}  # both fit: 2 reservations
        assert settled_budget(gateway, key)["spent_micro_usd"] == 0
        assert await fire(client, call, 3) == {"ok": 2, "insufficient_quota": 1}


async def test_if_calls_overlap_then_at_most_max_parallel_succeed(
    gateway: ServerProcess,
) -> None:
    key = create_key(gateway, rate_limits={"max_parallel_requests": 5})
    slow = exact_call(headers={"x-test-delay-ms": "1500"})
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
    client = sync_sdk(gateway, key)
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
    client = sync_sdk(gateway, key)
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
    client = sync_sdk(gateway, key)
    client.chat.completions.create(**call.body, extra_headers=call.headers)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(**call.body, extra_headers=call.headers)
    assert refused.value.code == "insufficient_quota"
    message = refused.value.message
    assert f"month budget of ${call.cost / 1e6:f}".rstrip("0") in message
    assert "resets at" in message and "UTC" in message
    assert int(refused.value.response.headers["retry-after"]) >= 1


def test_if_verify_has_a_cost_then_it_consumes_requests_per_minute(
    gateway: ServerProcess,
) -> None:
    key = create_key(gateway, rate_limits={"requests_per_minute": 5})
    first = verify_key(gateway, key, cost=2)
    assert first["valid"] is True and first["code"] == "VALID"
    assert first["limits"][0]["requests"] == {
        "limit": 5,
        "remaining": 3,
        "reset_seconds": pytest.approx(60, abs=1.5),
    }
    assert verify_key(gateway, key)["limits"][0]["requests"]["remaining"] == 3  # cost 0 only looks
    assert verify_key(gateway, key, cost=3)["valid"] is True
    refused = verify_key(gateway, key, cost=1)
    assert refused["valid"] is False and refused["code"] == "RATE_LIMITED"
    assert refused["retry_after_seconds"] >= 1
    assert refused["limits"][0]["requests"]["remaining"] == 0


def test_if_budget_is_spent_then_verify_answers_usage_exceeded(gateway: ServerProcess) -> None:
    call = exact_call()
    key = create_key(gateway, budget={"limit_usd": call.cost / 1_000_000, "period": "day"})
    assert verify_key(gateway, key, cost=1)["valid"] is True  # a verification has no price
    sync_sdk(gateway, key).chat.completions.create(**call.body, extra_headers=call.headers)
    answer = verify_key(gateway, key, cost=1)
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
    sync_sdk(gateway, budgeted).chat.completions.create(**call.body, extra_headers=call.headers)
    with Verifier(gateway.url, gateway.admin_key, env_file=None) as verifier:
        assert verifier.verify(limited, cost=1).valid is True
        refused = verifier.verify(limited, cost=1)
        assert (refused.valid, refused.code) == (False, "RATE_LIMITED")
        assert refused.retry_after_seconds is not None and refused.retry_after_seconds >= 1
        spent = verifier.verify(budgeted, cost=1)
        assert (spent.valid, spent.code) == (False, "USAGE_EXCEEDED")
