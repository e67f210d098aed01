"""A client that goes away mid-stream ends the upstream call, and the call is still metered."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from gateway.conftest import create_key
from support.server import ServerProcess


def _stream_errors(database: Path, key_id: str) -> int:
    with sqlite3.connect(database) as connection:
        row = connection.execute(
            "SELECT COALESCE(SUM(error_requests), 0) FROM usage_buckets "
            "WHERE api_key_id = ? AND endpoint = 'chat.completions'",
            (key_id,),
        ).fetchone()
    return int(row[0])


def test_client_disconnect_mid_stream_stops_relaying_and_is_metered(
    gateway: ServerProcess,
) -> None:
    secret = create_key(gateway)
    key_id = httpx.post(
        f"{gateway.url}/v1/keys/verify",
        json={"key": secret},
        headers={"Authorization": f"Bearer {gateway.admin_key}"},
    ).json()["key_id"]
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "count slowly"}],
        "max_tokens": 200,
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {secret}", "x-test-stream-delay-ms": "100"}
    started = time.monotonic()
    with (
        httpx.Client(timeout=10) as http,
        http.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, headers=headers) as r,
    ):
        assert r.status_code == 200
        first = next(r.iter_bytes())
        assert first.startswith(b"data: ")
    # The whole stream would take 200 x 100 ms = 20 s; the client left after the first frame.
    database = gateway.workdir / ".keyplane" / "keyplane.db"
    deadline = time.monotonic() + 5
    while _stream_errors(database, key_id) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _stream_errors(database, key_id) == 1  # metered as 499, client closed
    assert time.monotonic() - started < 10
