"""Connection hygiene against a real server: slow request heads and idle keep-alive
connections are closed, a cap on connections answers 503, and ``/healthz`` stays fast."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.server import ServerProcess, server_env

# The server's deadlines below are one second; a closed socket is waited for this long.
CLOSED_WITHIN = 15.0


def _serve(workdir: Path, **extra: str) -> Iterator[ServerProcess]:
    server = ServerProcess(workdir=workdir, env=server_env(workdir, **extra))
    server.init()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _serve(
        tmp_path_factory.mktemp("strict"),
        KEYPLANE_HTTP_HEAD_TIMEOUT_SECONDS="1",
        KEYPLANE_HTTP_KEEPALIVE_TIMEOUT_SECONDS="1",
        KEYPLANE_HTTP_BODY_IDLE_TIMEOUT_SECONDS="1",
    )


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _serve(
        tmp_path_factory.mktemp("capped"),
        KEYPLANE_HTTP_HEAD_TIMEOUT_SECONDS="60",
        KEYPLANE_HTTP_MAX_CONNECTIONS="20",
    )


def _open(server: ServerProcess, first_bytes: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=CLOSED_WITHIN)
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed the connection (EOF or reset) within the wait."""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_if_request_heads_never_finish_then_connections_close_and_healthz_stays_fast(
    strict: ServerProcess,
) -> None:
    slow = [_open(strict, b"GET /healthz HTTP/1.1\r\nHost: keyplane.test\r\n") for _ in range(300)]
    try:
        started = time.monotonic()
        assert httpx.get(f"{strict.url}/healthz", timeout=5).status_code == 200
        assert time.monotonic() - started < 2.0
        assert all(_closed_by_server(sock) for sock in slow)
    finally:
        for sock in slow:
            sock.close()


def test_if_a_connection_sends_nothing_then_it_is_closed(strict: ServerProcess) -> None:
    with _open(strict, b"") as sock:
        assert _closed_by_server(sock)


def test_if_a_keep_alive_connection_idles_then_it_is_closed(strict: ServerProcess) -> None:
    with _open(strict, b"GET /healthz HTTP/1.1\r\nHost: keyplane.test\r\n\r\n") as sock:
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200")
        assert _closed_by_server(sock)


def test_if_a_request_body_stalls_then_408_and_the_connection_closes(
    strict: ServerProcess,
) -> None:
    head = (
        "POST /v1/organization/projects HTTP/1.1\r\nHost: keyplane.test\r\n"
        f"Authorization: Bearer {strict.admin_key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    with _open(strict, head.encode() + b'{"name": ') as sock:
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"request_timeout" in answer


def test_if_connections_are_over_the_cap_then_503_in_each_routes_shape_and_back_once_closed(
    capped: ServerProcess,
) -> None:
    held = [_open(capped, b"GET /healthz HTTP/1.1\r\n") for _ in range(25)]
    try:
        time.sleep(0.2)  # let the server accept them all
        models = httpx.get(f"{capped.url}/v1/models", timeout=5)
        assert models.status_code == 503
        assert models.headers["retry-after"] == "1"
        assert models.json()["error"]["code"] == "server_busy"
        assert "KEYPLANE_HTTP_MAX_CONNECTIONS" in models.json()["error"]["message"]
        messages = httpx.post(f"{capped.url}/v1/messages", json={}, timeout=5)
        assert messages.status_code == 503
        assert messages.json()["type"] == "error"  # Anthropic's envelope on its route
        # The process is alive: a liveness probe that restarted it would only make it worse.
        assert httpx.get(f"{capped.url}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{capped.url}/readyz", timeout=5).status_code == 503
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + CLOSED_WITHIN
    while httpx.get(f"{capped.url}/v1/models", timeout=5).status_code != 401:
        assert time.monotonic() < deadline, "still refused after the held connections closed"
        time.sleep(0.1)
