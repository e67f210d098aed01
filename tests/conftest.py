"""Fixtures: settings, app, client, admin_headers, api_key — against SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.services.bootstrap import Bootstrap, bootstrap
from keyplane.store.database import Database
from keyplane.store.migrate import upgrade_to_head
from support.clock import FakeClock
from support.postgres import PostgresDatabases

pytest_plugins = ["support.server", "support.redis_server", "support.collector"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies: migrating once keeps the suite fast."""
    path = tmp_path_factory.mktemp("template") / "keyplane.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    await upgrade_to_head(database)
    await database.close()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> str:
    if request.param == "sqlite":
        target = tmp_path / "data" / "keyplane.db"
        target.parent.mkdir()
        shutil.copy(sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    return await postgres.fresh()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-server-secret",
        # No roll-up pass in the middle of a test that wrote usage of long ago.
        housekeeping_interval_seconds=86400,
    )


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def booted(app: FastAPI, clock: FakeClock) -> Bootstrap:
    database: Database = app.state.runtime.database
    return await bootstrap(database, brand="kp", clock=clock)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyplane.test") as http:
        yield http


@pytest.fixture
def admin_headers(booted: Bootstrap) -> dict[str, str]:
    return {"Authorization": f"Bearer {booted.admin_key}"}


@pytest.fixture
def project_id(booted: Bootstrap) -> str:
    assert booted.project_id is not None
    return booted.project_id


@pytest.fixture
async def api_key(
    client: httpx.AsyncClient, admin_headers: dict[str, str], project_id: str
) -> dict[str, Any]:
    """A fresh project key, as the create endpoint returns it (with ``value``)."""
    response = await client.post(
        f"/v1/organization/projects/{project_id}/api_keys",
        json={"name": "test key"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created
