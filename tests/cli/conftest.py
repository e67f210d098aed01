"""A ``keyplane serve --demo`` process: the gateway in front of keyplane's stand-in upstream."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.server import ServerProcess, server_env


def start_serving(server: ServerProcess, *args: str) -> None:
    """``keyplane serve ARGS`` for ``server``, waiting until it is ready (as ``start`` does)."""
    log = server.log_path.open("ab")
    server.process = subprocess.Popen(
        [sys.executable, "-m", "keyplane", "serve", "--port", str(server.port), *args],
        cwd=server.workdir,
        env=server.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited: {server.log_path.read_text()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not become ready: {server.log_path.read_text()}")


def demo_process(workdir: Path, **extra: str) -> ServerProcess:
    process = ServerProcess(workdir=workdir, env=server_env(workdir, **extra))
    process.init()
    process.env["KEYPLANE_URL"] = process.url
    start_serving(process, "--demo")
    return process


def stand_in_url(server: ServerProcess) -> str:
    found = re.search(r"stand-in upstream at (http://\S+/v1)", server.log_path.read_text())
    assert found, server.log_path.read_text()
    return found.group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``keyplane serve --demo`` with its log as JSON lines; tests make their own keys."""
    process = demo_process(tmp_path_factory.mktemp("demo"), KEYPLANE_LOG_FORMAT="json")
    yield process
    process.stop()
