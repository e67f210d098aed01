"""Hostile request bodies against a real server: sizes are bounded before a body is read,
callers are checked before their bodies are read, and JSON is bounded in depth and size; an
upstream's answer is bounded too."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from gateway.conftest import create_key, gateway_process, local_gateway, verify_key
from keyplane.keys.format import generate_key
from keyplane.testing import UpstreamProcess
from keyplane.values.kinds import KeyKind
from support.clock import FakeClock
from support.raw_http import connect, post_head, read_answer, rss_bytes
from support.scripted_server import Answer, EndlessHead, replying, serve, trickling
from support.server import ServerProcess
from support.usage_results import key_usage

ADMIN_LIMIT = 64 * 1024
GATEWAY_LIMIT = 2 * 1024 * 1024
ANSWER_LIMIT = 64 * 1024
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def bounded(
    tmp_path_factory: pytest.TempPathFactory, upstream: UpstreamProcess
) -> Iterator[ServerProcess]:
    process = gateway_process(
        tmp_path_factory.mktemp("bounded"),
        upstream,
        KEYPLANE_MAX_BODY_BYTES_ADMIN=str(ADMIN_LIMIT),
        KEYPLANE_MAX_BODY_BYTES_GATEWAY=str(GATEWAY_LIMIT),
        KEYPLANE_UPSTREAM_MAX_ANSWER_BYTES=str(ANSWER_LIMIT),
    )
    process.start()
    yield process
    process.stop()


@pytest.mark.parametrize(
    ("path", "auth"),
    [
        ("/v1/chat/completions", "gateway"),
        ("/v1/organization/projects", "admin"),
        ("/v1/keys/verify", "admin"),
        ("/v1/leaks/github", None),
    ],
)
def test_if_content_length_is_over_the_limit_then_413_before_the_body_is_sent(
    bounded: ServerProcess, path: str, auth: str | None
) -> None:
    key = create_key(bounded) if auth == "gateway" else bounded.admin_key
    headers = {"Content-Type": "application/json", "Content-Length": str(500 * MIB)}
    if auth:
        headers["Authorization"] = f"Bearer {key}"
    with connect(bounded) as sock:
        sock.sendall(post_head(path, headers))
        status, answer_headers, body = read_answer(sock)
    assert status == 413
    assert body["error"]["code"] == "request_too_large"
    assert answer_headers["connection"] == "close"


@pytest.mark.parametrize(
    "path", ["/v1/chat/completions", "/v1/organization/projects", "/v1/keys/verify"]
)
def test_if_caller_is_unauthenticated_then_401_before_the_body_is_sent(
    bounded: ServerProcess, path: str
) -> None:
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(ADMIN_LIMIT - 1),
        "Authorization": f"Bearer {generate_key(KeyKind.PROJECT)}",  # well formed, unknown
    }
    with connect(bounded) as sock:
        sock.sendall(post_head(path, headers))  # and never the body: the answer must not wait
        status, _, body = read_answer(sock)
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"


def test_if_chunked_body_crosses_the_limit_then_413_as_it_crosses(bounded: ServerProcess) -> None:
    headers = {
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
        "Authorization": f"Bearer {bounded.admin_key}",
    }
    chunk = b" " * 16384
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with connect(bounded) as sock:
        sock.sendall(post_head("/v1/organization/projects", headers) + b'2\r\n{"\r\n')
        sock.settimeout(0.05)
        answer = b""
        while not answer and sent < 50 * MIB:
            sock.sendall(frame)
            sent += len(chunk)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # Kernel buffers hold a few hundred KB in flight; far less than the 50 MB offered.
    assert sent < ADMIN_LIMIT + 8 * MIB


def _upload(server: ServerProcess, headers: dict[str, str], results: list[int]) -> None:
    frame = f"{65536:x}\r\n".encode() + b"x" * 65536 + b"\r\n"
    try:
        with connect(server) as sock:
            sock.sendall(post_head("/v1/chat/completions", headers))
            for _ in range(20 * MIB // 65536):
                sock.sendall(frame)
    except OSError:
        pass  # refused and closed mid-upload: the point
    finally:
        results.append(1)


def test_if_20_uploads_are_oversize_then_memory_grows_at_most_50_mb(bounded: ServerProcess) -> None:
    assert bounded.process is not None
    key = create_key(bounded)
    before = rss_bytes(bounded.process.pid)
    kinds = [
        {"Authorization": f"Bearer {key}", "Transfer-Encoding": "chunked"},
        {"Transfer-Encoding": "chunked"},  # no key at all
        {"Authorization": f"Bearer {key}", "Content-Length": str(500 * MIB)},
        {"Content-Length": str(500 * MIB)},
    ]
    results: list[int] = []
    threads = [
        threading.Thread(target=_upload, args=(bounded, kinds[n % 4], results)) for n in range(20)
    ]
    peak = before
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, rss_bytes(bounded.process.pid))
        time.sleep(0.01)
    assert len(results) == 20
    assert peak - before <= 50 * MIB, f"RSS grew by {(peak - before) / MIB:.1f} MB"
    assert httpx.get(f"{bounded.url}/healthz", timeout=5).status_code == 200


def _chat(server: ServerProcess, key: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("body", "code"),
    [
        # Streamed: the re-encoding that asks for usage once broke at 256 levels.
        (
            '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi",'
            f'"x":{_nested(300)}}}]}}',
            "request_too_deep",
        ),
        ('{"model":"gpt-4o-mini","messages":' + _nested(500) + "}", "request_too_deep"),
        ('{"model":"gpt-4o-mini","messages":' + _nested(5000) + "}", "request_too_deep"),
        ('{"model":"gpt-4o-mini","messages":[' + "0," * 1_000_001 + "0]}", "request_too_complex"),
        ('{"model":"' + "m" * 100_000 + '","messages":[]}', "invalid_value"),
    ],
    ids=["stream-300-deep", "500-deep", "5000-deep", "million-values", "100kb-model"],
)
def test_if_json_is_absurd_then_400_says_what_is_wrong(
    bounded: ServerProcess, body: str, code: str
) -> None:
    key = create_key(bounded, rate_limits={"tokens_per_minute": 10_000_000})
    response = _chat(bounded, key, body.encode())
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_if_admin_json_nests_deeply_then_4xx_not_500(bounded: ServerProcess) -> None:
    body = '{"name":"deep","metadata":' + _nested(5000) + "}"
    headers = {"Authorization": f"Bearer {bounded.admin_key}", "Content-Type": "application/json"}
    url = f"{bounded.url}/v1/organization/projects"
    response = httpx.post(url, content=body.encode(), headers=headers, timeout=30)
    assert 400 <= response.status_code < 500, response.text


def test_if_an_allowed_model_name_is_10kb_then_the_admin_api_refuses_it(
    bounded: ServerProcess,
) -> None:
    response = httpx.post(
        f"{bounded.url}/v1/organization/projects/{bounded.project_id}/api_keys",
        json={"name": "long models", "allowed_models": ["m" * 10_000]},
        headers={"Authorization": f"Bearer {bounded.admin_key}"},
        timeout=30,
    )
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["param"].startswith("allowed_models")


def test_if_upstreams_answer_is_over_the_limit_then_502_and_the_call_is_still_metered(
    bounded: ServerProcess,
) -> None:
    key = create_key(bounded)
    client = openai.OpenAI(base_url=f"{bounded.url}/v1", api_key=key, max_retries=0)
    long_answer = {"x-test-usage": "completion=20000"}  # ~140 KB of text, over 64 KiB
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "write a lot"}],
            extra_headers=long_answer,
        )
    assert raised.value.status_code == 502
    assert raised.value.code == "upstream_answer_too_large"
    assert "65,536 bytes" in raised.value.message
    usage = key_usage(bounded, verify_key(bounded, key)["key_id"], 1)
    assert usage["num_error_requests"] == 1  # it reached upstream: metered, as an estimate
    assert usage["num_estimated_requests"] == 1
    assert usage["input_tokens"] > 0
    small = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert small.choices[0].message.content  # an answer within the limit is relayed


async def metered_failure(
    answer: Answer, local_database: str, data_dir: Path, clock: FakeClock, **settings: Any
) -> tuple[openai.InternalServerError, int, int]:
    """One chat call through an in-process gateway whose upstream writes ``answer``: the
    error it raised, and the project's calls and spend the meter then holds."""
    async with (
        serve(answer) as server,
        local_gateway(server, local_database, data_dir, clock, **settings) as kp,
    ):
        sdk = kp.sdk(await kp.create_key())
        with pytest.raises(openai.InternalServerError) as raised:
            await sdk.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}]
            )
        meter = kp.app.state.runtime.meter
        since = clock() - timedelta(days=1)
        calls = await meter.requests(since=since, project_id=kp.project_id, model="gpt-4o-mini")
        spent = await meter.spent(since=since, project_id=kp.project_id)
    return raised.value, calls, spent


async def test_if_upstreams_answer_head_never_ends_then_502_and_the_call_is_still_metered(
    local_database: str, tmp_path: Path, clock: FakeClock
) -> None:
    endless = EndlessHead()
    error, calls, spent = await metered_failure(endless, local_database, tmp_path / "data", clock)
    assert error.status_code == 502
    assert error.code == "upstream_answer_too_large"
    assert endless.sent < 16 * MIB  # the gateway hung up: it did not hold the head
    assert calls == 1  # it reached upstream: metered, with its prompt counted
    assert spent > 0


async def test_if_upstream_hangs_up_after_reading_the_call_then_502_and_the_call_is_metered(
    local_database: str, tmp_path: Path, clock: FakeClock
) -> None:
    # As a provider's load balancer may, after the model ran: the call may be billed.
    error, calls, spent = await metered_failure(
        replying(keep=False), local_database, tmp_path / "data", clock
    )
    assert error.status_code == 502
    assert error.code == "upstream_broke_off"
    assert calls == 1
    assert spent > 0


async def test_the_model_list_is_bounded_by_the_same_answer_limit(
    local_database: str, tmp_path: Path, clock: FakeClock
) -> None:
    models = {
        "object": "list",
        "data": [{"id": f"m{n:06}", "object": "model"} for n in range(3000)],
    }
    body = json.dumps(models).encode()  # about 100 KB, over 64 KiB
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    async with (
        serve(replying(answer)) as server,
        local_gateway(
            server,
            local_database,
            tmp_path / "data",
            clock,
            upstream_max_answer_bytes=ANSWER_LIMIT,
        ) as kp,
    ):
        sdk = kp.sdk(await kp.create_key())
        with pytest.raises(openai.InternalServerError) as raised:
            await sdk.models.list()
    assert raised.value.status_code == 502
    assert raised.value.code == "upstream_answer_too_large"


async def test_if_upstreams_whole_answer_trickles_in_then_504_at_the_read_timeout_and_metered(
    local_database: str, tmp_path: Path, clock: FakeClock
) -> None:
    started = time.monotonic()
    error, calls, spent = await metered_failure(
        trickling(1000, every=0.05),  # 50 s in all, a byte well within each read's timeout
        local_database,
        tmp_path / "data",
        clock,
        upstream_read_timeout_seconds=0.5,
    )
    assert error.status_code == 504
    assert time.monotonic() - started < 20
    assert calls == 1
    assert spent > 0
