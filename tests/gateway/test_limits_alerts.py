"""Budget alerts: each threshold once per period, as an audit event and a signed webhook."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.conftest import LocalGateway, exact_call, fire, local_gateway
from keyplane.testing import UpstreamProcess
from keyplane.webhooks import SIGNATURE_HEADER, verify_signature
from support.clock import FakeClock
from webhooks.receiver import Receiver

EVENT = "budget.threshold_crossed"


async def alert_events(kp: LocalGateway) -> list[dict[str, Any]]:
    response = await kp.http.get(
        "/v1/organization/audit_logs", params={"type": EVENT}, headers=kp.admin
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["data"]
    return sorted(events, key=lambda e: (e["data"]["period_start"], e["data"]["threshold_percent"]))


async def spend(kp: LocalGateway, key: str, calls: int) -> None:
    """``calls`` calls, one after the other, all admitted."""
    client, call = kp.sdk(key), exact_call()
    for _ in range(calls):
        assert await fire(client, call, 1) == {"ok": 1}


async def test_if_thresholds_are_crossed_then_one_event_and_one_signed_webhook_each(
    upstream: UpstreamProcess, local_database: str, tmp_path: Path
) -> None:
    clock = FakeClock(datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0))
    cost = exact_call().cost
    async with (
        Receiver() as receiver,
        local_gateway(upstream, local_database, tmp_path / "data", clock) as kp,
    ):
        hook = await kp.http.post(
            "/v1/organization/webhook", json={"url": receiver.url}, headers=kp.admin
        )
        secret = hook.json()["secret"]
        budget = {"limit_usd": 4 * cost / 1e6, "period": "day", "alert_thresholds": [50, 100]}
        key = await kp.create_key(budget=budget)
        key_id = (
            await kp.http.post("/v1/keys/verify", json={"key": key}, headers=kp.admin)
        ).json()["key_id"]

        await spend(kp, key, 1)
        assert await alert_events(kp) == []
        await spend(kp, key, 3)  # 50 % after the 2nd call, 100 % after the 4th
        events = await alert_events(kp)
        assert [e["data"]["threshold_percent"] for e in events] == [50, 100]
        assert events[0]["target"] == {"type": "key", "id": key_id}
        assert events[1]["data"] | {"period_start": 0} == {
            "scope_type": "key",
            "scope_id": key_id,
            "threshold_percent": 100,
            "period": "day",
            "period_start": 0,
            "limit_usd": 4 * cost / 1e6,
            "limit_micro_usd": 4 * cost,
            "spent_micro_usd": 4 * cost,
        }
        deliveries = await receiver.wait_for(2)
        bodies = [json.loads(d.body) for d in deliveries]
        assert sorted(b["data"]["threshold_percent"] for b in bodies) == [50, 100]
        assert {b["type"] for b in bodies} == {EVENT}
        for delivery in deliveries:
            signature = delivery.headers[SIGNATURE_HEADER]
            assert verify_signature(delivery.body, signature, secret=secret)

        # A larger budget puts spend back under 50 %; crossing again in the period is silent.
        update = {"budget": {**budget, "limit_usd": 10 * cost / 1e6}}
        url = f"/v1/organization/projects/{kp.project_id}/api_keys/{key_id}"
        assert (await kp.http.post(url, json=update, headers=kp.admin)).status_code == 200
        await spend(kp, key, 6)  # 50 % and 100 % of the new limit
        await asyncio.sleep(0.3)
        assert len(await alert_events(kp)) == 2
        assert len(receiver.deliveries) == 2

        clock.advance(days=1)  # a new period: the thresholds arm again
        await spend(kp, key, 5)
        crossings = {
            (e["data"]["period_start"], e["data"]["threshold_percent"])
            for e in await alert_events(kp)
        }
        today = int(clock.now.replace(hour=0).timestamp())
        assert crossings == {(today - 86400, 50), (today - 86400, 100), (today, 50)}
        assert len(await receiver.wait_for(3)) == 3
