"""Secrets stay secret on a real server: nothing secret in its logs at debug level, its data
directory and store files readable by their owner only, and exported CSV cells inert."""

from __future__ import annotations

import csv
import io
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.conftest import UPSTREAM_KEY, create_key, gateway_process
from keyplane.testing import UpstreamProcess
from support.server import ServerProcess

FORMULAS = ['=HYPERLINK("http://evil.example","click")', "@SUM(1+1)", "+1+1", "-2+3"]


@pytest.fixture(scope="module")
def chatty(
    tmp_path_factory: pytest.TempPathFactory, upstream: UpstreamProcess
) -> Iterator[ServerProcess]:
    process = gateway_process(
        tmp_path_factory.mktemp("chatty"),
        upstream,
        KEYPLANE_LOG_LEVEL="debug",
        KEYPLANE_USAGE_FLUSH_SECONDS="0.2",
    )
    process.start()
    yield process
    process.stop()


def _admin(server: ServerProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.admin_key}"}


def test_if_logging_at_debug_then_no_secret_reaches_the_log(chatty: ServerProcess) -> None:
    webhook = httpx.post(
        f"{chatty.url}/v1/organization/webhook",
        json={"url": "http://127.0.0.1:9/hook"},
        headers=_admin(chatty),
        timeout=10,
    )
    assert webhook.status_code in (200, 201), webhook.text
    rotated = httpx.post(
        f"{chatty.url}/v1/organization/webhook/rotate_secret", headers=_admin(chatty), timeout=10
    )
    secrets = [webhook.json()["secret"], rotated.json()["secret"]]
    key = create_key(chatty)
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    wrong = "y" if key.endswith("x") else "x"  # changes the last character, always
    for bearer in (key, key[:-1] + wrong):  # a valid call and a refused one
        httpx.post(
            f"{chatty.url}/v1/chat/completions",
            json=chat,
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=10,
        )
    httpx.post(
        f"{chatty.url}/v1/keys/verify", json={"key": key}, headers=_admin(chatty), timeout=10
    )
    time.sleep(0.5)  # the meter and last-used writes, at debug level too
    log = chatty.log_path.read_text()
    assert "DEBUG" in log, "the server logs at debug level"
    for secret in [*secrets, key, chatty.admin_key, UPSTREAM_KEY]:
        assert secret not in log
        assert secret[-12:] not in log  # nor a long tail of one
    assert "whsec_" not in log.replace("whsec_[redacted]", "")


def test_if_the_store_is_sqlite_then_its_directory_and_files_are_private(
    chatty: ServerProcess,
) -> None:
    data_dir = Path(chatty.env["KEYPLANE_DATA_DIR"])
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    files = [data_dir / name for name in ("keyplane.db", "keyplane.db-wal", "keyplane.db-shm")]
    assert all(path.exists() for path in files)
    for path in [*files, data_dir / "secret_key"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_if_model_names_look_like_formulas_then_the_usage_csv_quotes_them(
    chatty: ServerProcess,
) -> None:
    key = create_key(chatty)
    for model in FORMULAS:
        response = httpx.post(
            f"{chatty.url}/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
    deadline = time.monotonic() + 10
    while True:
        result = chatty.keyplane("usage", "--csv", "--group-by", "model", "--since", "1h")
        assert result.returncode == 0, result.stderr
        models = {row["model"] for row in csv.DictReader(io.StringIO(result.stdout))}
        if len(models & {"'" + formula for formula in FORMULAS}) == len(FORMULAS):
            break
        assert time.monotonic() < deadline, result.stdout
        time.sleep(0.2)
    assert not models & set(FORMULAS)
