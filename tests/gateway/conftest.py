"""Fixtures: the stand-in upstream, and a real ``keyplane serve`` in front of it."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import openai
import pytest
from fastapi import FastAPI

from keyplane.app import create_app
from keyplane.clock import Clock
from keyplane.config import Settings
from keyplane.limits import estimate
from keyplane.services.bootstrap import bootstrap
from keyplane.testing import UpstreamProcess, start_upstream_process
from keyplane.usage.prices import PriceTable
from support.server import ServerProcess, server_env
from support.usage_results import admin_json

UPSTREAM_KEY = "sk-test-upstream-7Hq2"


@pytest.fixture(scope="session")
def upstream() -> Iterator[UpstreamProcess]:
    with start_upstream_process(api_key=UPSTREAM_KEY) as process:
        yield process


def gateway_process(workdir: Path, upstream: UpstreamProcess, **extra: str) -> ServerProcess:
    """An initialised keyplane server (not started) whose gateway forwards to ``upstream``."""
    env = server_env(
        workdir,
        KEYPLANE_UPSTREAM_BASE_URL=upstream.base_url,
        KEYPLANE_UPSTREAM_API_KEY=UPSTREAM_KEY,
        **extra,
    )
    process = ServerProcess(workdir=workdir, env=env)
    process.init()
    process.env["KEYPLANE_URL"] = process.url
    return process


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, upstream: UpstreamProcess
) -> Iterator[ServerProcess]:
    """One running gateway for a test module; tests create their own keys."""
    process = gateway_process(
        tmp_path_factory.mktemp("gateway"),
        upstream,
        KEYPLANE_UPSTREAM_READ_TIMEOUT_SECONDS="2",
        KEYPLANE_USAGE_FLUSH_SECONDS="0.2",
    )
    process.start()
    yield process
    process.stop()


def create_key(server: ServerProcess, project_id: str | None = None, **fields: Any) -> str:
    """A new key of the server's default project (or ``project_id``); returns its secret."""
    response = httpx.post(
        f"{server.url}/v1/organization/projects/{project_id or server.project_id}/api_keys",
        json={"name": "gateway test", **fields},
        headers={"Authorization": f"Bearer {server.admin_key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    value: str = response.json()["value"]
    return value


def upstream_log(upstream: UpstreamProcess) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{upstream.url}/_test/requests").json()["data"]
    return entries


# --- limits: calls whose real usage equals their reservation, and an in-process gateway ---

LIMITS_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class ExactCall:
    """A chat call the stand-in answers with exactly the usage keyplane reserves for it."""

    body: dict[str, Any]
    headers: dict[str, str]
    cost: int  # micro-USD: the reservation, and the settled cost


def exact_call(max_tokens: int = 10, headers: Mapping[str, str] | None = None) -> ExactCall:
    body = {
        "model": LIMITS_MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": max_tokens,
    }
    prompt = estimate.prompt_tokens(body)
    output = estimate.max_output_tokens(body, "chat.completions", estimate.DEFAULT_MAX_OUTPUT)
    cost = estimate.worst_case_cost(
        PriceTable.load(), LIMITS_MODEL, input_tokens=prompt, output_tokens=output
    )
    usage = f"prompt={prompt},completion={output},cached=0"
    return ExactCall(body, {"x-test-usage": usage, **(headers or {})}, cost)


async def fire(sdk: openai.AsyncOpenAI, call: ExactCall, count: int) -> Counter[str]:
    """``count`` concurrent calls; counts ``ok`` and each refusal's error code."""

    async def one() -> str:
        try:
            await sdk.chat.completions.create(**call.body, extra_headers=call.headers)
        except openai.APIStatusError as error:
            return str(error.code or error.status_code)
        except openai.APIConnectionError as error:  # timeouts too: counted, to show in a diff
            return type(error).__name__
        return "ok"

    return Counter(await asyncio.gather(*(one() for _ in range(count))))


def create_project(server: ServerProcess, **fields: Any) -> str:
    """A new project (with ``rate_limits`` / ``budget`` if given); returns its id."""
    response = httpx.post(
        f"{server.url}/v1/organization/projects",
        json={"name": f"limits test {secrets.token_hex(4)}", **fields},  # names are unique
        headers={"Authorization": f"Bearer {server.admin_key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    project_id: str = response.json()["id"]
    return project_id


def verify_key(server: ServerProcess, key: str, cost: int = 0) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/v1/keys/verify",
        json={"key": key, "cost": cost},
        headers={"Authorization": f"Bearer {server.admin_key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def settled_budget(server: ServerProcess, key: str) -> dict[str, int]:
    """The key's budget once no reservation is outstanding (settling follows the answer)."""
    deadline = time.monotonic() + 5
    while True:
        budget: dict[str, int] = verify_key(server, key)["limits"][0]["budget"]
        if budget["reserved_micro_usd"] == 0 or time.monotonic() > deadline:
            return budget
        time.sleep(0.05)


def metered_cost(server: ServerProcess, project_id: str, expected: int) -> int:
    """The project's cost from ``/v1/organization/costs``, waiting for the meter to flush."""
    deadline = time.monotonic() + 5
    while True:
        answer = admin_json(
            server, "costs", start_time=int(time.time()) - 86400, project_ids=project_id
        )
        total: int = sum(
            result["amount"]["value_micro_usd"]
            for bucket in answer["data"]
            for result in bucket["results"]
        )
        if total >= expected or time.monotonic() > deadline:
            return total
        time.sleep(0.1)


@dataclass
class LocalGateway:
    """keyplane in this process (``create_app``), reached through ``httpx.ASGITransport``."""

    app: FastAPI
    http: httpx.AsyncClient
    admin: dict[str, str]
    project_id: str

    def sdk(self, key: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url="http://keyplane.test/v1",
            api_key=key,
            max_retries=0,
            timeout=30,
            # The SDK accepts any httpx-compatible client; its stubs name their own vendored one.
            http_client=self.http,  # type: ignore[arg-type]
        )

    async def create_key(self, **fields: Any) -> str:
        response = await self.http.post(
            f"/v1/organization/projects/{self.project_id}/api_keys",
            json={"name": f"limits test {secrets.token_hex(4)}", **fields},  # names are unique
            headers=self.admin,
        )
        assert response.status_code == 200, response.text
        value: str = response.json()["value"]
        return value


class Listening(Protocol):
    """An upstream the gateway can forward to: the stand-in's process, or a scripted server."""

    @property
    def base_url(self) -> str: ...


@asynccontextmanager
async def local_gateway(
    upstream: Listening, database_url: str, data_dir: Path, clock: Clock, **settings: Any
) -> AsyncIterator[LocalGateway]:
    """A running in-process keyplane on ``database_url`` (already migrated), with ``clock``."""
    app = create_app(
        Settings(
            _env_file=None,
            data_dir=data_dir,
            database_url=database_url,
            secret_key="test-server-secret",
            upstream_base_url=upstream.base_url,
            KEYPLANE_UPSTREAM_API_KEY=UPSTREAM_KEY,  # the field's alias: only it is read
            usage_flush_seconds=0.1,
            key_cache_ttl_seconds=0,
            **settings,
        ),
        clock=clock,
    )
    async with app.router.lifespan_context(app):
        boot = await bootstrap(app.state.runtime.database, brand="kp", clock=clock)
        assert boot.admin_key is not None and boot.project_id is not None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://keyplane.test") as http:
            admin = {"Authorization": f"Bearer {boot.admin_key}"}
            yield LocalGateway(app, http, admin, boot.project_id)


@pytest.fixture
def local_database(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite database of this test's own, for ``local_gateway``."""
    target = tmp_path / "local.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"
