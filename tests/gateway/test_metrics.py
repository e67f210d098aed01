"""``/metrics`` counts requests by route group, and never names a key."""

from __future__ import annotations

import httpx
import pytest

from gateway.conftest import create_key
from keyplane.api.metrics import Metrics, route_group
from support.server import ServerProcess


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("/v1/chat/completions", "gateway_chat_completions"),
        ("/v1/models/gpt-4o", "gateway_models"),
        ("/v1/organization/projects/proj_abc/api_keys/key_x", "admin_api"),
        ("/v1/keys/verify", "verify"),
        ("/v1/leaks/github", "leak_reports"),
        ("/metrics", "ops"),
        ("/projects/proj_abc", "dashboard"),
        ("/v1/unknown/kp_proj_secret", "other_v1"),
    ],
)
def test_paths_map_to_a_small_fixed_set_of_groups(path: str, group: str) -> None:
    assert route_group(path) == group


def test_histogram_buckets_are_cumulative() -> None:
    metrics = Metrics()
    metrics.observe("verify", "POST", 200, 0.003)
    metrics.observe("verify", "POST", 200, 0.2)
    text = metrics.render()
    assert 'keyplane_http_request_duration_seconds_bucket{le="0.005",route="verify"} 1.0' in text
    assert 'keyplane_http_request_duration_seconds_bucket{le="+Inf",route="verify"} 2.0' in text
    assert 'keyplane_http_requests_total{method="POST",route="verify",status="200"} 2.0' in text


def test_metrics_count_gateway_and_admin_calls_without_naming_keys(
    gateway: ServerProcess,
) -> None:
    secret = create_key(gateway)
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    ok = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json=chat,
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert ok.status_code == 200
    refused = httpx.post(
        f"{gateway.url}/v1/chat/completions", json=chat, headers={"Authorization": "Bearer nope"}
    )
    assert refused.status_code == 401
    response = httpx.get(f"{gateway.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'method="POST",route="gateway_chat_completions",status="200"' in text
    assert 'method="POST",route="gateway_chat_completions",status="401"' in text
    assert 'method="POST",route="admin_api",status="201"' in text
    assert "keyplane_usage_pending_buckets" in text
    assert secret not in text and "key_" not in text and "kp_" not in text
