"""Redis unreachable: budgets fail closed, rate limits follow the setting, others carry on."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from gateway.conftest import LocalGateway, exact_call, fire, local_gateway
from keyplane.clock import system_clock
from keyplane.testing import UpstreamProcess

NO_REDIS = "redis://127.0.0.1:1/0"


async def outcomes(kp: LocalGateway, **fields: object) -> dict[str, int]:
    key = await kp.create_key(**fields)
    return dict(await fire(kp.sdk(key), exact_call(), 2))


@pytest.mark.parametrize(
    ("failure", "rate_limited"),
    [("fail_closed", {"limits_unavailable": 2}), ("fail_open", {"ok": 2})],
)
async def test_if_redis_is_unreachable_then_budgets_fail_closed_and_rates_follow_the_setting(
    upstream: UpstreamProcess,
    local_database: str,
    tmp_path: Path,
    failure: str,
    rate_limited: dict[str, int],
) -> None:
    async with local_gateway(
        upstream,
        local_database,
        tmp_path / "data",
        system_clock,
        redis_url=NO_REDIS,
        rate_limit_failure=failure,
    ) as kp:
        assert await outcomes(kp, budget={"limit_usd": 5}) == {"limits_unavailable": 2}
        assert await outcomes(kp, rate_limits={"requests_per_minute": 100}) == rate_limited
        both = {"rate_limits": {"max_parallel_requests": 3}, "budget": {"limit_usd": 5}}
        assert await outcomes(kp, **both) == {"limits_unavailable": 2}
        assert await outcomes(kp) == {"ok": 2}


async def test_if_redis_is_unreachable_then_the_503_says_so(
    upstream: UpstreamProcess, local_database: str, tmp_path: Path
) -> None:
    async with local_gateway(
        upstream, local_database, tmp_path / "data", system_clock, redis_url=NO_REDIS
    ) as kp:
        key = await kp.create_key(budget={"limit_usd": 5})
        call = exact_call()
        with pytest.raises(openai.InternalServerError) as refused:
            await kp.sdk(key).chat.completions.create(**call.body, extra_headers=call.headers)
        assert refused.value.status_code == 503
        assert "unreachable" in refused.value.message


async def test_if_redis_is_unreachable_then_verify_answers_unavailable(
    upstream: UpstreamProcess, local_database: str, tmp_path: Path
) -> None:
    async with local_gateway(
        upstream, local_database, tmp_path / "data", system_clock, redis_url=NO_REDIS
    ) as kp:
        budgeted = await kp.create_key(budget={"limit_usd": 5})
        plain = await kp.create_key()
        for key, cost, code in [(budgeted, 1, "UNAVAILABLE"), (budgeted, 0, "UNAVAILABLE")]:
            response = await kp.http.post(
                "/v1/keys/verify", json={"key": key, "cost": cost}, headers=kp.admin
            )
            assert response.status_code == 200, response.text
            assert (response.json()["valid"], response.json()["code"]) == (False, code)
        response = await kp.http.post("/v1/keys/verify", json={"key": plain}, headers=kp.admin)
        assert response.json()["code"] == "VALID"
