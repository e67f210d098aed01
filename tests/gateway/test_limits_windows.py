"""Budget windows reset at their UTC boundary, with nobody touching the key (injected clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import openai
import pytest

from gateway.conftest import exact_call, fire, local_gateway
from keyplane.testing import UpstreamProcess
from support import redis_server
from support.clock import FakeClock

BACKENDS = [
    pytest.param(None, id="memory"),
    pytest.param(redis_server.redis_url(), id="redis", marks=pytest.mark.redis),
]


def last_minute_of_month() -> datetime:
    """23:59 UTC on the last day of the current month: both a day and a month end soon."""
    today = datetime.now(UTC).replace(hour=23, minute=59, second=0, microsecond=0)
    first_of_next = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_of_next - timedelta(days=1)


@pytest.mark.parametrize("redis_url", BACKENDS)
@pytest.mark.parametrize("period", ["day", "month"])
async def test_if_budget_is_spent_then_it_is_admitted_again_after_the_period_boundary(
    upstream: UpstreamProcess,
    local_database: str,
    tmp_path: Path,
    redis_url: str | None,
    period: str,
) -> None:
    clock = FakeClock(last_minute_of_month())
    call = exact_call()
    async with local_gateway(
        upstream, local_database, tmp_path / "data", clock, redis_url=redis_url
    ) as kp:
        key = await kp.create_key(budget={"limit_usd": 2 * call.cost / 1e6, "period": period})
        client = kp.sdk(key)
        assert await fire(client, call, 3) == {"ok": 2, "insufficient_quota": 1}
        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(**call.body, extra_headers=call.headers)
        assert refused.value.response.headers["retry-after"] == "60"  # the end of the window

        clock.advance(seconds=59)
        assert await fire(client, call, 1) == {"insufficient_quota": 1}
        clock.advance(seconds=1)  # midnight UTC, and the first of the month
        assert await fire(client, call, 3) == {"ok": 2, "insufficient_quota": 1}


async def test_if_period_is_total_then_budget_never_resets(
    upstream: UpstreamProcess, local_database: str, tmp_path: Path
) -> None:
    clock = FakeClock(last_minute_of_month())
    call = exact_call()
    async with local_gateway(upstream, local_database, tmp_path / "data", clock) as kp:
        key = await kp.create_key(budget={"limit_usd": call.cost / 1e6, "period": "total"})
        client = kp.sdk(key)
        assert await fire(client, call, 2) == {"ok": 1, "insufficient_quota": 1}
        clock.advance(days=40)
        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(**call.body, extra_headers=call.headers)
        assert "does not reset" in refused.value.message
