"""A real keyplane server process, for tests of the CLI and of what reaches disk and logs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """A ``keyplane serve`` child with its own data dir; logs go to ``log_path``."""

    workdir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    admin_key: str = ""
    organization_id: str = ""
    project_id: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def keyplane(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        """Run the CLI in this server's working directory and environment."""
        done: subprocess.CompletedProcess[str] = subprocess.run(
            [sys.executable, "-m", "keyplane", *args],
            cwd=kwargs.pop("cwd", self.workdir),
            env={**self.env, **kwargs.pop("env", {})},  # type: ignore[dict-item]
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            **kwargs,  # type: ignore[call-overload]
        )
        return done

    def init(self) -> None:
        result = self.keyplane("init", "--json")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        self.admin_key = data["admin_key"]
        self.organization_id = data["organization_id"]
        self.project_id = data["project_id"]
        self.env["KEYPLANE_ADMIN_KEY"] = self.admin_key

    def start(self, *args: str) -> None:
        """``keyplane serve`` with ``args``; returns once it is ready."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "keyplane", "serve", "--port", str(self.port), *args],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()  # a server that failed its fixture is nobody's to stop later
        raise RuntimeError(f"server did not become ready: {self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def server_env(workdir: Path, **extra: str) -> dict[str, str]:
    """A clean environment: nothing of the developer's own keyplane settings leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYPLANE_", "OPENAI_"))}
    env.update(
        KEYPLANE_DATA_DIR=str(workdir / ".keyplane"),
        KEYPLANE_LOG_LEVEL="info",
        # Tests write usage of long ago; a roll-up pass in the middle would fold it away.
        # The roll-up's own tests run it themselves.
        KEYPLANE_HOUSEKEEPING_INTERVAL_SECONDS="86400",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """An initialised, running keyplane server on SQLite in a temporary directory."""
    process = ServerProcess(workdir=tmp_path, env=server_env(tmp_path))
    process.init()
    process.env["KEYPLANE_URL"] = process.url
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for a whole test module, for tests that only add state of their own."""
    workdir = tmp_path_factory.mktemp("server")
    process = ServerProcess(workdir=workdir, env=server_env(workdir))
    process.init()
    process.env["KEYPLANE_URL"] = process.url
    process.start()
    yield process
    process.stop()
