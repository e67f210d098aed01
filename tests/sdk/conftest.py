"""One real ``keyplane serve`` process for the SDK's tests; each test makes its own project."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keyplane.sdk import Client
from support.server import ServerProcess, server_env


@pytest.fixture(scope="session")
def sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("sdk-server")
    process = ServerProcess(workdir=workdir, env=server_env(workdir))
    process.init()
    process.start()
    yield process
    process.stop()


@pytest.fixture
def admin(sdk_server: ServerProcess) -> Iterator[Client]:
    with Client(sdk_server.url, sdk_server.admin_key, timeout=10, env_file=None) as client:
        yield client


@pytest.fixture
def project_id(admin: Client, request: pytest.FixtureRequest) -> str:
    """A fresh project, so tests sharing the server never see each other's keys."""
    return admin.projects.create(request.node.name[:200]).id
