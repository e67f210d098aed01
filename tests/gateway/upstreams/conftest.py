"""A real keyplane in front of several stand-in upstreams: OpenAI, Anthropic, Azure, failing ones.

The upstreams file routes ``claude-*`` to the Anthropic stand-in, ``az-*`` to the Azure one,
and sends ``flaky-*`` (503), ``busy-*`` (429), ``gone-*`` (nothing listens) and ``picky-*``
(a key the upstream refuses) to upstreams that fail, each with the OpenAI stand-in as its
fallback, which serves everything else OpenAI-shaped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.conftest import UPSTREAM_KEY
from keyplane.testing import UpstreamProcess, start_upstream_process
from support.server import ServerProcess, free_port, server_env
from support.usage_results import summed

ANTHROPIC_KEY = "sk-ant-test-provider-Jq81"
AZURE_KEY = "azure-test-provider-Lm42"
AZURE_VERSION = "2024-10-21"
PROVIDER_KEYS = (UPSTREAM_KEY, ANTHROPIC_KEY, AZURE_KEY, "sk-wrong-provider-key-Zz90")

UPSTREAMS_FILE = """
[[upstream]]
name = "claude"
provider = "anthropic"
base_url = "{anthropic}"
api_key = "${{TEST_ANTHROPIC_KEY}}"
models = ["claude-*"]

[[upstream]]
name = "azure"
provider = "azure"
base_url = "{azure}"
api_key = "${{TEST_AZURE_KEY}}"
api_version = "{version}"
models = ["az-*"]
deployments = {{ "az-gpt-4o" = "prod-4o" }}

[[upstream]]
name = "down"
provider = "openai"
base_url = "{down}/v1"
api_key = "${{TEST_OPENAI_KEY}}"
models = ["flaky-*"]
fallbacks = ["openai"]

[[upstream]]
name = "busy"
provider = "openai"
base_url = "{busy}/v1"
api_key = "${{TEST_OPENAI_KEY}}"
models = ["busy-*"]
fallbacks = ["openai"]

[[upstream]]
name = "nowhere"
provider = "openai_compatible"
base_url = "http://127.0.0.1:{closed}/v1"
api_key = "${{TEST_OPENAI_KEY}}"
models = ["gone-*"]
fallbacks = ["openai"]
connect_timeout_seconds = 2

[[upstream]]
name = "picky"
provider = "openai"
base_url = "{openai}/v1"
api_key = "${{TEST_WRONG_KEY}}"
models = ["picky-*"]
fallbacks = ["openai"]

[[upstream]]
name = "openai"
provider = "openai"
base_url = "{openai}/v1"
api_key = "${{TEST_OPENAI_KEY}}"
models = ["gpt-*", "o*", "text-embedding-*", "flaky-*", "busy-*", "gone-*", "picky-*"]
"""


@pytest.fixture(scope="session")
def anthropic_upstream() -> Iterator[UpstreamProcess]:
    with start_upstream_process(api_key=ANTHROPIC_KEY, provider="anthropic") as process:
        yield process


@pytest.fixture(scope="session")
def azure_upstream() -> Iterator[UpstreamProcess]:
    with start_upstream_process(api_key=AZURE_KEY, provider="azure") as process:
        yield process


@pytest.fixture(scope="session")
def down_upstream() -> Iterator[UpstreamProcess]:
    with start_upstream_process(api_key=UPSTREAM_KEY, fail_status=503) as process:
        yield process


@pytest.fixture(scope="session")
def busy_upstream() -> Iterator[UpstreamProcess]:
    with start_upstream_process(api_key=UPSTREAM_KEY, fail_status=429) as process:
        yield process


@dataclass
class Upstreams:
    openai: UpstreamProcess
    anthropic: UpstreamProcess
    azure: UpstreamProcess
    down: UpstreamProcess
    busy: UpstreamProcess


@pytest.fixture(scope="session")
def stand_ins(
    upstream: UpstreamProcess,
    anthropic_upstream: UpstreamProcess,
    azure_upstream: UpstreamProcess,
    down_upstream: UpstreamProcess,
    busy_upstream: UpstreamProcess,
) -> Upstreams:
    return Upstreams(upstream, anthropic_upstream, azure_upstream, down_upstream, busy_upstream)


def upstreams_file(workdir: Path, stand_ins: Upstreams) -> Path:
    path = workdir / "upstreams.toml"
    path.write_text(
        UPSTREAMS_FILE.format(
            anthropic=stand_ins.anthropic.url,
            azure=stand_ins.azure.url,
            version=AZURE_VERSION,
            down=stand_ins.down.url,
            busy=stand_ins.busy.url,
            closed=free_port(),
            openai=stand_ins.openai.url,
        )
    )
    return path


def multi_env(workdir: Path, stand_ins: Upstreams, **extra: str) -> dict[str, str]:
    return server_env(
        workdir,
        KEYPLANE_UPSTREAMS_FILE=str(upstreams_file(workdir, stand_ins)),
        TEST_OPENAI_KEY=UPSTREAM_KEY,
        TEST_ANTHROPIC_KEY=ANTHROPIC_KEY,
        TEST_AZURE_KEY=AZURE_KEY,
        TEST_WRONG_KEY=PROVIDER_KEYS[-1],
        KEYPLANE_USAGE_FLUSH_SECONDS="0.2",
        **extra,
    )


@pytest.fixture(scope="session")
def multi(
    tmp_path_factory: pytest.TempPathFactory, stand_ins: Upstreams
) -> Iterator[ServerProcess]:
    """One running keyplane over every stand-in; tests create their own keys."""
    workdir = tmp_path_factory.mktemp("multi")
    process = ServerProcess(workdir=workdir, env=multi_env(workdir, stand_ins))
    process.init()
    process.env["KEYPLANE_URL"] = process.url
    process.start()
    yield process
    process.stop()


@dataclass(frozen=True)
class Key:
    id: str
    value: str


def new_key(server: ServerProcess, project_id: str | None = None, **fields: Any) -> Key:
    response = httpx.post(
        f"{server.url}/v1/organization/projects/{project_id or server.project_id}/api_keys",
        json={"name": "upstreams test", **fields},
        headers={"Authorization": f"Bearer {server.admin_key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Key(body["id"], body["value"])


def usage_of(server: ServerProcess, key: Key, requests: int) -> dict[tuple[str, str], Any]:
    """The key's completions usage by (provider, model), once ``requests`` calls are in."""
    deadline = time.monotonic() + 10
    while True:
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for kind in ("completions", "embeddings"):
            response = httpx.get(
                f"{server.url}/v1/organization/usage/{kind}",
                params={
                    "start_time": int(time.time()) - 3600,
                    "api_key_ids": key.id,
                    "group_by": ["provider", "model"],
                },
                headers={"Authorization": f"Bearer {server.admin_key}"},
                timeout=10,
            )
            assert response.status_code == 200, response.text
            for bucket in response.json()["data"]:
                for result in bucket["results"]:
                    grouped.setdefault((result["provider"], result["model"]), []).append(result)
        found = {group: summed(results) for group, results in grouped.items()}
        total = sum(r["num_model_requests"] for r in found.values())
        if total >= requests or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def requests_to(stand_in: UpstreamProcess) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{stand_in.url}/_test/requests").json()["data"]
    return entries


def forget_requests(stand_in: UpstreamProcess) -> None:
    """Empty the stand-in's request log (it keeps the last 1,000: a count of it saturates)."""
    httpx.delete(f"{stand_in.url}/_test/requests").raise_for_status()
