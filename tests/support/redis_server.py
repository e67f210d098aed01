"""The Redis server the tests use: the shared one, or under pytest-xdist one per worker.

Keys are not all that tests on one Redis share. Every keyplane instance with a Redis
listens on its recount channel, and pub/sub ignores database numbers: a budget seed in one
worker's test would wait for the servers of another's, and for up to a minute for one
that was killed or is behind a paused proxy (``keyplane.limits.redis``). So each xdist
worker starts a ``redis-server`` of its own, on a free port, and stops it at the end.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support.server import free_port

SHARED = "redis://127.0.0.1:6379/0"
NOTHING_ON_DISK = ("--save", "", "--appendonly", "no")
_ENV = "KEYPLANE_TEST_REDIS"  # set by each xdist worker to its own server; else SHARED


def redis_url(database: int = 0) -> str:
    """The URL of the tests' Redis, with ``database`` selected."""
    base = os.environ.get(_ENV, SHARED)
    return base.rsplit("/", 1)[0] + f"/{database}"


def redis_port() -> int:
    port = urlsplit(redis_url()).port
    assert port is not None
    return port


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A ``redis-server`` on a free port (its files in ``workdir``); yields its URL."""
    for _ in range(3):  # another process may take the free port before redis binds it
        port = free_port()
        process = subprocess.Popen(
            [*("redis-server", "--port", str(port), "--bind", "127.0.0.1"), *NOTHING_ON_DISK],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if _answers(port, process):
            break
        process.kill()
        process.wait()
    else:
        raise RuntimeError("redis-server did not start")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(port: int, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        ping = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True)
        if ping.stdout == b"PONG\n":
            return process.poll() is None  # not another's server on the port it lost
        time.sleep(0.05)
    return False


_SERVER = pytest.StashKey[ExitStack]()


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # not an xdist worker: the shared server
        return
    own = ExitStack()
    workdir = own.enter_context(tempfile.TemporaryDirectory(prefix="kp-redis-"))
    os.environ[_ENV] = own.enter_context(redis_server(Path(workdir)))
    config.stash[_SERVER] = own


def pytest_unconfigure(config: pytest.Config) -> None:
    own = config.stash.get(_SERVER, None)
    if own is not None:
        own.close()
