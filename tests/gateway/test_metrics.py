"""``/metrics`` counts requests by route group, and never names a key."""

from __future__ import annotations

import sys

import httpx
import pytest

from gateway.conftest import create_key
from keyplane.http.metrics import Metrics, route_group
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


def test_gauges_are_read_at_each_scrape() -> None:
    metrics = Metrics()
    pending = [3.0]
    metrics.gauge("keyplane_usage_pending_buckets", "Buckets not yet written.", lambda: pending[0])
    assert "keyplane_usage_pending_buckets 3.0" in metrics.render()
    pending[0] = 0.0
    assert "keyplane_usage_pending_buckets 0.0" in metrics.render()


def test_two_metrics_in_one_process_count_apart_and_both_expose_runtime_metrics() -> None:
    first, second = Metrics(), Metrics()
    first.observe("verify", "POST", 200, 0.003)
    for text in (first.render(), second.render()):
        assert "python_gc_objects_collected_total" in text
        assert "python_info{" in text
        assert "keyplane_process_start_time_seconds " in text
    assert 'status="200"} 1.0' in first.render()
    assert 'route="verify"' not in second.render()


@pytest.mark.skipif(sys.platform != "linux", reason="process metrics read /proc")
def test_process_metrics_are_exposed() -> None:
    text = Metrics().render()
    assert "process_cpu_seconds_total" in text
    assert "process_resident_memory_bytes" in text


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
    assert 'method="POST",route="admin_api",status="200"' in text
    assert "python_gc_objects_collected_total" in text
    assert "keyplane_usage_pending_buckets" in text
    assert secret not in text and "key_" not in text and "kp_" not in text
