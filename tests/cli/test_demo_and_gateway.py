"""Trying the gateway with ``serve --demo``; what a client and an operator see when calls fail.

Real processes throughout: ``keyplane serve`` (with ``--demo``, or in front of a stand-in
upstream it is misconfigured for), keys made with the CLI, calls made with the openai SDK.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from cli.conftest import stand_in_url, start_serving
from keyplane.testing import UpstreamProcess, start_upstream_process
from support.server import ServerProcess, server_env

HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def project_key(server: ServerProcess, *flags: str) -> dict[str, Any]:
    made = server.keyplane("keys", "create", "--name", "sdk", *flags, "--json")
    assert made.returncode == 0, made.stderr
    key: dict[str, Any] = json.loads(made.stdout)
    return key


def sdk(server: ServerProcess, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=secret, max_retries=0)


def log_records(server: ServerProcess) -> list[dict[str, Any]]:
    """The JSON lines of the server's log (its stdout lines are not JSON)."""
    records = []
    for line in server.log_path.read_text().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def logged(server: ServerProcess, wanted: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """The call lines ``wanted`` picks; a line is written just after its answer ends."""
    deadline = time.monotonic() + 10
    while True:
        found = [
            r for r in log_records(server) if r["logger"] == "keyplane.gateway.calls" and wanted(r)
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def text_line(server: ServerProcess, start: str) -> str:
    """The first text log line containing ``start``, waiting for it to be written."""
    deadline = time.monotonic() + 10
    while True:
        lines = [t for t in server.log_path.read_text().splitlines() if start in t]
        if lines or time.monotonic() > deadline:
            assert lines, f"no log line with {start!r}"
            return lines[0]
        time.sleep(0.05)


# --- 12: trying it without a provider key -----------------------------------------------------


def test_demo_says_it_forwards_to_the_stand_in_and_answers_the_openai_sdk(
    demo: ServerProcess,
) -> None:
    printed = demo.log_path.read_text()
    assert "DEMO: the gateway forwards to keyplane's stand-in upstream at http://127.0.0.1:" in (
        printed
    )
    assert "not to a provider" in printed
    key = project_key(demo)
    client = sdk(demo, key["value"])
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert reply.choices[0].message.content and reply.usage is not None
    assert {m.owned_by for m in client.models.list()} == {"keyplane-stand-in"}
    # The dashboard says it too, on every page, signed in or not (KEYPLANE_DEMO).
    page = httpx.get(f"{demo.url}/login", headers={"accept": "text/html"})
    assert "forwards calls to keyplane's stand-in upstream, not to a provider" in page.text


def test_the_stand_in_stops_with_the_demo_server(tmp_path: Path) -> None:
    server = ServerProcess(workdir=tmp_path, env=server_env(tmp_path))
    server.init()
    start_serving(server, "--demo")
    upstream = stand_in_url(server)
    assert httpx.get(f"{upstream}/models").status_code == 401  # it runs, and wants its key
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{upstream}/models", timeout=5)


# --- 13: the client is not blamed for keyplane's upstream settings; one line per call ---------


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamProcess]:
    with start_upstream_process(api_key="sk-test-upstream-right-key") as process:
        yield process


def misconfigured(workdir: Path, upstream_url: str, upstream_key: str) -> ServerProcess:
    env = server_env(
        workdir, KEYPLANE_UPSTREAM_BASE_URL=upstream_url, KEYPLANE_UPSTREAM_API_KEY=upstream_key
    )
    server = ServerProcess(workdir=workdir, env=env)
    server.init()
    server.env["KEYPLANE_URL"] = server.url
    start_serving(server)
    return server


def test_if_the_provider_refuses_keyplanes_key_the_client_gets_a_502_not_a_401(
    tmp_path: Path, upstream: UpstreamProcess
) -> None:
    server = misconfigured(tmp_path, upstream.base_url, "sk-test-upstream-wrong-key")
    try:
        key = project_key(server)
        with pytest.raises(openai.InternalServerError) as raised:
            sdk(server, key["value"]).chat.completions.create(model="gpt-4o", messages=HI)
        error = raised.value
        assert error.status_code == 502 and error.code == "upstream_refused"
        assert "refused keyplane's own provider key (HTTP 401 invalid_api_key)" in error.message
        assert "Your keyplane key is fine" in error.message
        assert "Incorrect API key" not in error.message and "wrong-key" not in error.message
        log = server.log_path.read_text()
        assert "upstream refused keyplane's own call: HTTP 401 invalid_api_key" in log
        # The per-call line, as text: who, what, how it ended; never the secrets.
        line = text_line(server, "gateway call: POST /v1/chat/completions")
        assert f"status=502 key_id={key['id']} model=gpt-4o latency_ms=" in line
        everything = server.log_path.read_text()
        assert key["value"] not in everything and "sk-test-upstream-wrong-key" not in everything
    finally:
        server.stop()


def test_if_keyplanes_upstream_url_is_wrong_the_client_gets_a_502_naming_the_url(
    tmp_path: Path, upstream: UpstreamProcess
) -> None:
    server = misconfigured(tmp_path, f"{upstream.url}/v2", "sk-test-upstream-right-key")
    try:
        client = sdk(server, project_key(server)["value"])
        with pytest.raises(openai.InternalServerError) as raised:
            client.chat.completions.create(model="gpt-4o", messages=HI)
        assert raised.value.status_code == 502
        assert "upstream URL is probably wrong" in raised.value.message
        with pytest.raises(openai.InternalServerError):
            client.models.list()
    finally:
        server.stop()


@pytest.mark.parametrize("status", [401, 403, 404])
def test_an_upstream_refusal_without_a_model_code_is_a_502(
    demo: ServerProcess, status: int
) -> None:
    client = sdk(demo, project_key(demo)["value"])
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=HI, extra_headers={"x-test-status": str(status)}
        )
    assert raised.value.status_code == 502 and raised.value.code == "upstream_refused"
    assert f"HTTP {status}" in raised.value.message


def test_an_unknown_model_at_the_provider_is_the_clients_404(demo: ServerProcess) -> None:
    client = sdk(demo, project_key(demo)["value"])
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("gpt-0-does-not-exist")
    assert raised.value.code == "model_not_found"


def test_each_gateway_call_logs_one_json_line_with_its_facts(demo: ServerProcess) -> None:
    key = project_key(demo)
    client = sdk(demo, key["value"])
    client.chat.completions.create(model="gpt-4o-mini", messages=HI, max_tokens=5)
    # A bad checksum, so no key id is known. The last character is changed, never kept.
    wrong = "y" if key["value"].endswith("x") else "x"
    with pytest.raises(openai.AuthenticationError):
        sdk(demo, key["value"][:-1] + wrong).models.list()
    [call] = logged(demo, lambda r: r.get("key_id") == key["id"])
    assert call["level"] == "info" and call["message"].startswith("gateway call: POST")
    assert (call["method"], call["path"], call["status"]) == ("POST", "/v1/chat/completions", 200)
    assert call["model"] == "gpt-4o-mini"
    assert call["input_tokens"] > 0 and 0 < call["output_tokens"] <= 5
    assert call["cached_tokens"] == 0 and call["latency_ms"] >= 0
    refused = logged(
        demo,
        lambda r: r.get("path") == "/v1/models" and r["status"] == 401 and r["key_id"] is None,
    )
    assert refused, "a refused call is logged too"
    log = demo.log_path.read_text()
    assert key["value"] not in log and key["value"][:-1] not in log


# --- 14: a budget refusal says what the call reserves and why ---------------------------------


def test_a_small_budget_refusal_explains_the_reservation_and_does_not_say_exceeded(
    demo: ServerProcess,
) -> None:
    key = project_key(demo, "--budget-usd", "0.01", "--budget-period", "day")
    client = sdk(demo, key["value"])
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=HI)
    message = raised.value.message
    assert raised.value.code == "insufficient_quota"
    assert "429 - This call reserves up to $0.04" in message
    assert "4,096 output tokens at gpt-4o's price because max_completion_tokens is not set" in (
        message
    )
    assert f"The day budget of $0.01 for key {key['id']} has $0.01 left" in message
    assert "set max_completion_tokens lower, or raise the budget" in message
    assert "exceeded" not in message

    # Bounded output fits; the stand-in then bills far more than was reserved.
    client.chat.completions.create(
        model="gpt-4o",
        messages=HI,
        max_tokens=10,
        extra_headers={"x-test-usage": "prompt=10,completion=100000"},
    )
    with pytest.raises(openai.RateLimitError) as spent:
        client.chat.completions.create(model="gpt-4o", messages=HI, max_tokens=10)
    assert (
        f"429 - You exceeded the day budget of $0.01 for key {key['id']} ($1.000025 spent "
        "this period)." in spent.value.message
    )
