"""``keyplane serve --workers N``: one socket, N processes, limits exact across them, usage
durable per worker, one setup link."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from gateway.conftest import create_key, create_project, exact_call, fire, gateway_process
from keyplane.testing import UpstreamProcess
from support.redis_server import redis_url
from support.server import ServerProcess, server_env

pytestmark = pytest.mark.redis


def workers_of(server: ServerProcess) -> list[int]:
    """The worker processes under ``serve`` (uvicorn's supervisor is the server's pid)."""
    assert server.process is not None
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    pids = [int(pid) for pid in children.read_text().split()]
    return [pid for pid in pids if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


@pytest.fixture
def served(tmp_path: Path, upstream: UpstreamProcess) -> Iterator[ServerProcess]:
    server = gateway_process(
        tmp_path, upstream, KEYPLANE_REDIS_URL=redis_url(), KEYPLANE_USAGE_FLUSH_SECONDS="0.2"
    )
    server.start("--workers", "2")
    yield server
    server.stop()


def stored_calls(server: ServerProcess) -> int:
    """Chat calls in the server's store (each test has a server of its own)."""
    database = Path(server.env["KEYPLANE_DATA_DIR"]) / "keyplane.db"
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute(
            "SELECT COALESCE(SUM(requests), 0) FROM usage_buckets "
            "WHERE endpoint = 'chat.completions'"
        ).fetchone()
    return int(count)


async def test_two_workers_hold_one_budget_and_print_one_setup_link(served: ServerProcess) -> None:
    assert len(workers_of(served)) == 2
    call = exact_call()
    project_id = create_project(served)
    key = create_key(served, project_id, budget={"limit_usd": 50 * call.cost / 1e6})
    sdk = openai.AsyncOpenAI(base_url=f"{served.url}/v1", api_key=key, max_retries=0)
    outcomes = await fire(sdk, call, 300)
    await sdk.close()
    assert outcomes == {"ok": 50, "insufficient_quota": 250}
    served.stop()
    log = served.log_path.read_text()
    assert log.count("/setup?token=") == 1


@pytest.fixture
def unflushed(tmp_path: Path, upstream: UpstreamProcess) -> Iterator[ServerProcess]:
    """Two workers that write usage to the store only once a minute: the journal holds it."""
    server = gateway_process(
        tmp_path, upstream, KEYPLANE_REDIS_URL=redis_url(), KEYPLANE_USAGE_FLUSH_SECONDS="60"
    )
    server.start("--workers", "2")
    yield server
    server.stop()


async def test_a_killed_worker_loses_no_metered_call(unflushed: ServerProcess) -> None:
    served = unflushed
    key = create_key(served)
    sdk = openai.AsyncOpenAI(base_url=f"{served.url}/v1", api_key=key, max_retries=0)
    outcomes = await fire(sdk, exact_call(), 40)
    await sdk.close()
    assert outcomes == {"ok": 40}
    assert stored_calls(served) == 0  # nothing flushed yet: only the journals have them
    for pid in workers_of(served):  # both, before their next flush could run
        os.kill(pid, signal.SIGKILL)
    served.stop()
    served.start("--workers", "2")
    # Each worker replays the journals it finds unlocked before it serves; the readiness
    # check may reach the other worker while the one that took them is still writing.
    for _ in range(200):  # 20 s at most
        if stored_calls(served) >= 40:
            break
        await asyncio.sleep(0.1)
    assert stored_calls(served) == 40


def test_several_workers_without_redis_are_refused_in_one_line(tmp_path: Path) -> None:
    env = server_env(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "keyplane", "serve", "--port", "0", "--workers", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "KEYPLANE_REDIS_URL" in lines[0] and "2 times every limit" in lines[0]
    assert not (tmp_path / ".keyplane" / "keyplane.db").exists()  # refused before any change
