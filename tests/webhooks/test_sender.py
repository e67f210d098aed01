"""Deliveries reach a real local HTTP receiver, signed, and are retried with backoff."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from fastapi import FastAPI

from keyplane.services.bootstrap import Bootstrap
from keyplane.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, verify_signature
from keyplane.webhooks.sender import RetryPolicy
from webhooks.receiver import Receiver

Headers = dict[str, str]


async def point_webhook_at(client: httpx.AsyncClient, headers: Headers, url: str) -> str:
    response = await client.post("/v1/organization/webhook", json={"url": url}, headers=headers)
    assert response.status_code == 200, response.text
    secret: str = response.json()["secret"]
    return secret


async def test_if_webhook_set_then_receiver_gets_a_signed_event(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: Headers, booted: Bootstrap
) -> None:
    async with Receiver() as receiver:
        secret = await point_webhook_at(client, admin_headers, receiver.url)
        data: dict[str, Any] = {"threshold": 80, "project_id": "proj_1"}
        event_id = await app.state.runtime.webhooks.enqueue(
            booted.organization_id, "budget.threshold_crossed", data
        )
        (delivery,) = await receiver.wait_for(1)
    assert verify_signature(delivery.body, delivery.headers[SIGNATURE_HEADER], secret=secret)
    assert delivery.headers[EVENT_ID_HEADER] == event_id
    assert delivery.headers["content-type"] == "application/json"
    event = json.loads(delivery.body)
    assert event["id"] == event_id
    assert event["type"] == "budget.threshold_crossed"
    assert event["data"] == data
    assert abs(event["created_at"] - time.time()) < 120


async def test_if_receiver_fails_twice_then_third_try_delivers_the_same_event(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: Headers, booted: Bootstrap
) -> None:
    async with Receiver(statuses=[500, 503, 204]) as receiver:
        secret = await point_webhook_at(client, admin_headers, receiver.url)
        event_id = await app.state.runtime.webhooks.enqueue(
            booted.organization_id, "test.event", {"n": 1}
        )
        deliveries = await receiver.wait_for(3)
    assert [d.status for d in deliveries] == [500, 503, 204]
    assert {d.headers[EVENT_ID_HEADER] for d in deliveries} == {event_id}
    assert {d.body for d in deliveries} == {deliveries[0].body}
    for delivery in deliveries:
        assert verify_signature(delivery.body, delivery.headers[SIGNATURE_HEADER], secret=secret)


async def test_if_receiver_keeps_failing_then_gives_up_after_max_attempts(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: Headers, booted: Bootstrap
) -> None:
    async with Receiver(statuses=[500]) as receiver:
        await point_webhook_at(client, admin_headers, receiver.url)
        await app.state.runtime.webhooks.enqueue(booted.organization_id, "test.event", {})
        await receiver.wait_for(3)
        await app.state.runtime.webhooks.stop()  # waits for the delivery task to end
        assert len(receiver.deliveries) == 3  # webhook_max_attempts in tests


async def test_if_no_webhook_then_enqueue_returns_at_once_and_nothing_is_sent(
    app: FastAPI, booted: Bootstrap
) -> None:
    started = time.perf_counter()
    event_id = await app.state.runtime.webhooks.enqueue(booted.organization_id, "x", {})
    assert event_id.startswith("evt_")
    assert time.perf_counter() - started < 0.05


def test_retry_delays_grow_exponentially_and_are_bounded() -> None:
    policy = RetryPolicy(backoff_seconds=1, max_backoff_seconds=10)
    assert [policy.delay(n) for n in range(6)] == [1, 2, 4, 8, 10, 10]
