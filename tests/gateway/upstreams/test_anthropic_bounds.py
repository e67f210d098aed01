"""Anthropic's routes against a real server: a caller is checked and a body's size bounded
before the body is read, and each refusal comes in Anthropic's error shape.

A 413 is proved over raw sockets: a client still writing a body the server will not read
(the ``anthropic`` SDK) sees the connection close, not the answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from gateway.upstreams.conftest import Key, Upstreams, multi_env, new_key
from keyplane.keys.format import generate_key
from keyplane.values.kinds import KeyKind
from support.raw_http import connect, post_head, read_answer, rss_bytes
from support.server import ServerProcess

GATEWAY_LIMIT = 2 * 1024 * 1024
MIB = 1024 * 1024
MODEL = "claude-haiku-4-5-20251001"
PATHS = ["/v1/messages", "/v1/messages/count_tokens"]
UNKNOWN_KEY = generate_key(KeyKind.PROJECT)  # well formed, issued by no server


@pytest.fixture(scope="module")
def bounded(
    tmp_path_factory: pytest.TempPathFactory, stand_ins: Upstreams
) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("anthropic-bounded")
    env = multi_env(workdir, stand_ins, KEYPLANE_MAX_BODY_BYTES_GATEWAY=str(GATEWAY_LIMIT))
    process = ServerProcess(workdir=workdir, env=env)
    process.init()
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def key(bounded: ServerProcess) -> Key:
    return new_key(bounded)


def assert_anthropic_error(body: dict[str, Any], kind: str) -> None:
    assert set(body) == {"type", "error"} and body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == kind and body["error"]["message"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("header", ["x-api-key", "authorization"])
def test_if_content_length_is_over_the_limit_then_413_in_anthropics_shape_before_the_body(
    bounded: ServerProcess, key: Key, path: str, header: str
) -> None:
    value = key.value if header == "x-api-key" else f"Bearer {key.value}"
    headers = {"Content-Type": "application/json", "Content-Length": str(500 * MIB), header: value}
    with connect(bounded) as sock:
        sock.sendall(post_head(path, headers))  # and never the body: the answer must not wait
        status, answer_headers, body = read_answer(sock)
    assert status == 413
    assert_anthropic_error(body, "request_too_large")
    assert str(GATEWAY_LIMIT) in body["error"]["message"]
    assert answer_headers["connection"] == "close"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"x-api-key": UNKNOWN_KEY},
        {"Authorization": f"Bearer {UNKNOWN_KEY}"},
        {"x-api-key": "sk-ant-api03-not-a-keyplane-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["no-key", "unknown-x-api-key", "unknown-bearer", "foreign-key", "not-bearer"],
)
def test_if_caller_is_unauthenticated_then_401_in_anthropics_shape_before_the_body(
    bounded: ServerProcess, path: str, credentials: dict[str, str]
) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(GATEWAY_LIMIT - 1)}
    with connect(bounded) as sock:
        sock.sendall(post_head(path, headers | credentials))  # the body is never sent
        status, answer_headers, body = read_answer(sock)
    assert status == 401
    assert_anthropic_error(body, "authentication_error")
    for secret in credentials.values():
        assert secret.split()[-1] not in body["error"]["message"]
    assert answer_headers["connection"] == "close"


@pytest.mark.parametrize("path", PATHS)
def test_if_chunked_body_crosses_the_limit_then_413_in_anthropics_shape_as_it_crosses(
    bounded: ServerProcess, key: Key, path: str
) -> None:
    headers = {
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
        "x-api-key": key.value,
    }
    chunk = b" " * 16384
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with connect(bounded) as sock:
        sock.sendall(post_head(path, headers) + b'2\r\n{"\r\n')
        sock.settimeout(0.05)
        answer = b""
        while b"\r\n\r\n" not in answer and sent < 50 * MIB:
            sock.sendall(frame)
            sent += len(chunk)
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                continue
        sock.settimeout(10)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        while not answer.endswith(b"}"):  # the JSON body follows its head
            answer += sock.recv(65536)
    assert b'"type":"request_too_large"' in answer
    # Kernel buffers hold a few hundred KB in flight; far less than the 50 MB offered.
    assert sent < GATEWAY_LIMIT + 8 * MIB


def _sdk(server: ServerProcess, how: str, value: str) -> anthropic.Anthropic:
    """The SDK with the key as ``x-api-key`` (``api_key``) or as a bearer (``auth_token``)."""
    if how == "api_key":
        return anthropic.Anthropic(base_url=server.url, api_key=value, max_retries=0)
    return anthropic.Anthropic(base_url=server.url, auth_token=value, max_retries=0)


@pytest.mark.parametrize("how", ["api_key", "auth_token"])
def test_if_the_sdk_has_a_wrong_key_then_it_raises_authentication_error(
    bounded: ServerProcess, how: str
) -> None:
    sdk = _sdk(bounded, how, UNKNOWN_KEY)
    with pytest.raises(anthropic.AuthenticationError) as raised:
        sdk.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    body: Any = raised.value.body
    assert_anthropic_error(body, "authentication_error")


@pytest.mark.parametrize("how", ["api_key", "auth_token"])
def test_if_the_key_is_right_then_messages_and_count_tokens_are_served_as_before(
    bounded: ServerProcess, key: Key, how: str
) -> None:
    sdk = _sdk(bounded, how, key.value)
    messages: Any = [{"role": "user", "content": "hello there"}]
    answer = sdk.messages.create(model=MODEL, max_tokens=5, messages=messages)
    assert answer.content[0].type == "text" and answer.content[0].text
    assert sdk.messages.count_tokens(model=MODEL, messages=messages).input_tokens > 0


def _upload(server: ServerProcess, path: str, headers: dict[str, str]) -> None:
    frame = f"{65536:x}\r\n".encode() + b"x" * 65536 + b"\r\n"
    try:
        with connect(server) as sock:
            sock.sendall(post_head(path, headers))
            for _ in range(20 * MIB // 65536):
                sock.sendall(frame)
    except OSError:
        pass  # refused and closed mid-upload: the point


def test_if_20_uploads_to_anthropics_routes_are_oversize_then_memory_grows_at_most_50_mb(
    bounded: ServerProcess, key: Key
) -> None:
    assert bounded.process is not None
    pid = bounded.process.pid
    before = rss_bytes(pid)
    kinds = [
        {"x-api-key": key.value, "Transfer-Encoding": "chunked"},
        {"Transfer-Encoding": "chunked"},  # no key at all
        {"x-api-key": UNKNOWN_KEY, "Transfer-Encoding": "chunked"},
        {"x-api-key": key.value, "Content-Length": str(500 * MIB)},
        {"Content-Length": str(500 * MIB)},
    ]
    threads = [
        threading.Thread(target=_upload, args=(bounded, PATHS[n % 2], kinds[n % 5]))
        for n in range(20)
    ]
    peak = before
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, rss_bytes(pid))
        time.sleep(0.01)
    assert peak - before <= 50 * MIB, f"RSS grew by {(peak - before) / MIB:.1f} MB"
    assert httpx.get(f"{bounded.url}/healthz", timeout=5).status_code == 200
