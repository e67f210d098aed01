"""A leak report to a real ``keyplane serve``: the key dies everywhere and no log line holds it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from keyplane.testing import start_upstream_process
from leaks.signer import REPORT_PATH, GithubSigner, write_keys_file
from support.server import ServerProcess, server_env

UPSTREAM_KEY = "sk-test-upstream-Lk9w"


@pytest.fixture
def leak_server(tmp_path: Path, github: GithubSigner) -> Iterator[ServerProcess]:
    keys = write_keys_file(tmp_path / "github-keys.json", github)
    with start_upstream_process(api_key=UPSTREAM_KEY) as upstream:
        env = server_env(
            tmp_path,
            KEYPLANE_GITHUB_SCANNING_KEYS=str(keys),
            KEYPLANE_UPSTREAM_BASE_URL=upstream.base_url,
            KEYPLANE_UPSTREAM_API_KEY=UPSTREAM_KEY,
        )
        process = ServerProcess(workdir=tmp_path, env=env)
        process.init()
        process.start()
        yield process
        process.stop()


def test_reported_key_is_refused_by_gateway_and_verify_and_never_logged(
    leak_server: ServerProcess, github: GithubSigner
) -> None:
    admin = {"Authorization": f"Bearer {leak_server.admin_key}"}
    with httpx.Client(base_url=leak_server.url, headers=admin, timeout=10) as http:
        key = http.post(
            f"/v1/organization/projects/{leak_server.project_id}/api_keys", json={"name": "app"}
        ).json()["value"]
        sdk = openai.OpenAI(base_url=f"{leak_server.url}/v1", api_key=key, max_retries=0)
        assert list(sdk.models.list())
        body = json.dumps(
            [{"token": key, "type": "kp", "url": "https://x/y", "source": "content"}]
        ).encode()
        report = http.post(REPORT_PATH, content=body, headers=github.headers(body))
        assert report.json()[0]["label"] == "true_positive"
        assert http.post("/v1/keys/verify", json={"key": key}).json()["code"] == "REVOKED"
    time.sleep(1.1)  # the gateway may trust a resolved key for up to a second (DESIGN rule 5)
    with pytest.raises(openai.AuthenticationError):
        sdk.models.list()
    log = leak_server.log_path.read_text()
    assert "revoked leaked key" in log
    assert key not in log
