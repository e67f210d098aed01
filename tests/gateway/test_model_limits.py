"""A project's per-model limits and model permissions, enforced by the gateway.

Per-model limits are taken in the same atomic reservation as the key's and the project's,
on the in-process backend and on Redis alike: 100 concurrent calls never overshoot, and a
call one scope refuses takes nothing from the others.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openai
import pytest

from gateway.conftest import LIMITS_MODEL, LocalGateway, exact_call, fire, local_gateway
from keyplane.limits import estimate
from keyplane.limits.memory import MemoryBackend
from keyplane.testing import UpstreamProcess
from support.clock import FakeClock
from support.redis_server import redis_url

BACKENDS = [
    pytest.param({}, id="memory"),
    pytest.param({"redis_url": redis_url()}, id="redis", marks=pytest.mark.redis),
]
OTHER_MODEL = "gpt-4o"


async def set_model_limit(kp: LocalGateway, model: str, **fields: int) -> None:
    response = await kp.http.post(
        f"/v1/organization/projects/{kp.project_id}/rate_limits/rl-{model}",
        json=fields,
        headers=kp.admin,
    )
    assert response.status_code == 200, response.text


async def set_permissions(kp: LocalGateway, mode: str, model_ids: list[str]) -> None:
    response = await kp.http.post(
        f"/v1/organization/projects/{kp.project_id}/model_permissions",
        json={"mode": mode, "model_ids": model_ids},
        headers=kp.admin,
    )
    assert response.status_code == 200, response.text


def other_model_call() -> Any:
    call = exact_call()
    return type(call)({**call.body, "model": OTHER_MODEL}, call.headers, call.cost)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_if_100_concurrent_calls_meet_a_model_limit_of_20_then_exactly_20_pass(
    upstream: UpstreamProcess,
    local_database: str,
    tmp_path: Path,
    clock: FakeClock,
    backend: dict[str, Any],
) -> None:
    async with local_gateway(upstream, local_database, tmp_path / "data", clock, **backend) as kp:
        await set_model_limit(kp, LIMITS_MODEL, max_requests_per_1_minute=20)
        key = await kp.create_key(rate_limits={"requests_per_minute": 30})
        sdk = kp.sdk(key)
        assert await fire(sdk, exact_call(), 100) == {"ok": 20, "rate_limit_exceeded": 80}
        # The 80 refused calls took nothing from the key: its 10 requests left go through
        # on a model the project does not limit, and then the key's own limit refuses.
        assert await fire(sdk, other_model_call(), 15) == {"ok": 10, "rate_limit_exceeded": 5}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_if_100_concurrent_calls_meet_a_model_token_limit_then_none_overshoot(
    upstream: UpstreamProcess,
    local_database: str,
    tmp_path: Path,
    clock: FakeClock,
    backend: dict[str, Any],
) -> None:
    call = exact_call()
    tokens = estimate.prompt_tokens(call.body) + int(call.body["max_tokens"])
    async with local_gateway(upstream, local_database, tmp_path / "data", clock, **backend) as kp:
        await set_model_limit(kp, LIMITS_MODEL, max_tokens_per_1_minute=12 * tokens)
        sdk = kp.sdk(await kp.create_key())
        assert await fire(sdk, call, 100) == {"ok": 12, "rate_limit_exceeded": 88}
        assert await fire(sdk, other_model_call(), 5) == {"ok": 5}
        clock.advance(seconds=61)
        assert await fire(sdk, call, 3) == {"ok": 3}


async def test_a_model_limit_refusal_names_the_model_and_project(
    upstream: UpstreamProcess, local_database: str, tmp_path: Path, clock: FakeClock
) -> None:
    async with local_gateway(upstream, local_database, tmp_path / "data", clock) as kp:
        await set_model_limit(kp, LIMITS_MODEL, max_requests_per_1_minute=1)
        sdk = kp.sdk(await kp.create_key())
        call = exact_call()
        await sdk.chat.completions.create(**call.body, extra_headers=call.headers)
        with pytest.raises(openai.RateLimitError) as refused:
            await sdk.chat.completions.create(**call.body, extra_headers=call.headers)
        assert f"model {LIMITS_MODEL} in project {kp.project_id}" in refused.value.message


@pytest.mark.parametrize(
    ("mode", "listed", "allowed", "refused"),
    [
        ("deny_list", [OTHER_MODEL], LIMITS_MODEL, OTHER_MODEL),
        ("allow_list", [LIMITS_MODEL], LIMITS_MODEL, OTHER_MODEL),
        ("deny_list", ["gpt-4o*"], "gpt-3.5-turbo", LIMITS_MODEL),
    ],
)
async def test_project_model_permissions_refuse_models_beside_the_key_allow_list(
    upstream: UpstreamProcess,
    local_database: str,
    tmp_path: Path,
    clock: FakeClock,
    mode: str,
    listed: list[str],
    allowed: str,
    refused: str,
) -> None:
    async with local_gateway(upstream, local_database, tmp_path / "data", clock) as kp:
        await set_permissions(kp, mode, listed)
        sdk = kp.sdk(await kp.create_key())
        body = exact_call().body
        await sdk.chat.completions.create(**{**body, "model": allowed})
        with pytest.raises(openai.PermissionDeniedError) as denied:
            await sdk.chat.completions.create(**{**body, "model": refused})
        assert denied.value.code == "model_not_allowed"
        assert "project" in denied.value.message
        models = {m.id for m in (await sdk.models.list()).data}
        assert models and refused not in models


async def test_a_key_allow_list_still_narrows_what_the_project_allows(
    upstream: UpstreamProcess, local_database: str, tmp_path: Path, clock: FakeClock
) -> None:
    async with local_gateway(upstream, local_database, tmp_path / "data", clock) as kp:
        await set_permissions(kp, "deny_list", ["gpt-3.5-turbo"])
        sdk = kp.sdk(await kp.create_key(allowed_models=[OTHER_MODEL]))
        with pytest.raises(openai.PermissionDeniedError):
            await sdk.chat.completions.create(**exact_call().body)  # allowed by the project
        await sdk.chat.completions.create(**{**exact_call().body, "model": OTHER_MODEL})


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_organisation_spend_limit_holds_over_every_project(
    upstream: UpstreamProcess,
    local_database: str,
    tmp_path: Path,
    clock: FakeClock,
    backend: dict[str, Any],
) -> None:
    call = exact_call(max_tokens=1000)
    fits = 10_000 // call.cost  # calls that fit in one cent
    assert 5 <= fits <= 50, call.cost
    async with local_gateway(upstream, local_database, tmp_path / "data", clock, **backend) as kp:
        response = await kp.http.post(
            "/v1/organization/spend_limit",
            json={"threshold_amount": 1, "currency": "USD", "interval": "month"},
            headers=kp.admin,
        )
        assert response.status_code == 200, response.text
        other = await kp.http.post(
            "/v1/organization/projects", json={"name": "second"}, headers=kp.admin
        )
        first = kp.sdk(await kp.create_key())
        second_key = await kp.http.post(
            f"/v1/organization/projects/{other.json()['id']}/api_keys",
            json={"name": "second"},
            headers=kp.admin,
        )
        second = kp.sdk(second_key.json()["value"])
        both = await asyncio.gather(fire(first, call, 30), fire(second, call, 30))
        outcomes = both[0] + both[1]
        assert outcomes == {"ok": fits, "insufficient_quota": 60 - fits}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_if_100_concurrent_calls_meet_a_model_day_limit_of_20_then_20_pass_until_midnight(
    upstream: UpstreamProcess,
    local_database: str,
    tmp_path: Path,
    clock: FakeClock,
    backend: dict[str, Any],
) -> None:
    clock.now = clock.now.replace(hour=12)  # the hour below stays in this UTC day
    async with local_gateway(upstream, local_database, tmp_path / "data", clock, **backend) as kp:
        await set_model_limit(kp, LIMITS_MODEL, max_requests_per_1_day=20)
        sdk = kp.sdk(await kp.create_key())
        assert await fire(sdk, exact_call(), 100) == {"ok": 20, "rate_limit_exceeded": 80}
        clock.advance(hours=1)  # a minute window would have room again; the day has none
        call = exact_call()
        with pytest.raises(openai.RateLimitError) as refused:
            await sdk.chat.completions.create(**call.body, extra_headers=call.headers)
        message = refused.value.message
        assert f"requests per day on model {LIMITS_MODEL} in project {kp.project_id}" in message
        assert "limit 20" in message and "00:00 UTC" in message
        midnight = datetime.combine(clock.now.date() + timedelta(days=1), time(), UTC)
        retry_after = int(refused.value.response.headers["retry-after"])
        assert abs(retry_after - (midnight - clock.now).total_seconds()) <= 1
        assert await fire(sdk, other_model_call(), 3) == {"ok": 3}  # other models unaffected
        clock.now = midnight + timedelta(seconds=1)
        assert await fire(sdk, exact_call(), 30) == {"ok": 20, "rate_limit_exceeded": 10}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_day_count_the_limits_store_lost_is_seeded_again_from_usage(
    upstream: UpstreamProcess,
    local_database: str,
    tmp_path: Path,
    clock: FakeClock,
    backend: dict[str, Any],
) -> None:
    """The in-process counters gone (a restart) or Redis losing the day's key: today's
    metered calls are counted again, so the day does not start over."""
    clock.now = clock.now.replace(hour=12)  # the same UTC day throughout
    async with local_gateway(upstream, local_database, tmp_path / "data", clock, **backend) as kp:
        await set_model_limit(kp, LIMITS_MODEL, max_requests_per_1_day=20)
        sdk = kp.sdk(await kp.create_key())
        assert await fire(sdk, exact_call(), 15) == {"ok": 15}
        limits = kp.app.state.runtime.limits
        if backend:
            day = f"day:{clock.now:%Y-%m-%d}"
            key = f"kp:lim:bud:model:{kp.project_id}:{LIMITS_MODEL}:{day}"
            assert await limits.backend.redis.delete(key) == 1
        else:
            limits.backend = MemoryBackend()  # what a restart starts with
        assert await fire(sdk, exact_call(), 100) == {"ok": 5, "rate_limit_exceeded": 95}
