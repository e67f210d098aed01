"""The official ``anthropic`` SDK against keyplane: Anthropic's Messages API, natively."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anthropic
import httpx
import pytest

from gateway.upstreams.conftest import Key, new_key, requests_to, usage_of
from keyplane.testing import UpstreamProcess
from support.server import ServerProcess

MODEL = "claude-haiku-4-5-20251001"
HELLO: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "hello there"}],
}
# claude-haiku-4-5 in micro-USD per 1M tokens: input, cache read, cache write, output.
HAIKU = (1_000_000, 100_000, 1_250_000, 5_000_000)


def client(server: ServerProcess, key: Key) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key=key.value, max_retries=0)


def cost(uncached: int, read: int, written: int, output: int) -> int:
    total = sum(n * p for n, p in zip((uncached, read, written, output), HAIKU, strict=True))
    return -(-total // 1_000_000)


def test_a_message_is_answered_and_metered_from_anthropics_usage_with_cache_tokens(
    multi: ServerProcess, anthropic_upstream: UpstreamProcess
) -> None:
    key = new_key(multi)
    forced = {"x-test-usage": "prompt=20,cached=5,cache_write=7,completion=3"}
    answer = client(multi, key).messages.create(**HELLO, extra_headers=forced)
    assert answer.content[0].type == "text" and answer.content[0].text
    usage = answer.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens) == (8, 5)
    assert (usage.cache_creation_input_tokens, usage.output_tokens) == (7, 3)
    metered = usage_of(multi, key, 1)
    assert set(metered) == {("claude", MODEL)}
    row = metered[("claude", MODEL)]
    assert (row["input_tokens"], row["input_cached_tokens"], row["output_tokens"]) == (20, 5, 3)
    assert row["cost_micro_usd"] == cost(8, 5, 7, 3) == 33
    sent = requests_to(anthropic_upstream)[-1]
    assert sent["path"] == "/v1/messages" and sent["auth"] == "valid"
    assert sent["headers"]["anthropic-version"] == answer_version(multi, key)


def answer_version(server: ServerProcess, key: Key) -> str:
    """The anthropic-version the SDK sends: keyplane passes the client's on."""
    request = client(server, key).messages.with_raw_response.create(**HELLO).http_request
    return request.headers["anthropic-version"]


def test_without_anthropic_version_keyplane_sends_its_configured_one(
    multi: ServerProcess, anthropic_upstream: UpstreamProcess
) -> None:
    key = new_key(multi)
    response = httpx.post(
        f"{multi.url}/v1/messages", json=HELLO, headers={"x-api-key": key.value}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert requests_to(anthropic_upstream)[-1]["headers"]["anthropic-version"] == "2023-06-01"


def test_a_streamed_message_arrives_as_events_and_is_metered(multi: ServerProcess) -> None:
    key = new_key(multi)
    with client(multi, key).messages.stream(**{**HELLO, "max_tokens": 6}) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert len(text.split()) == 6 and final.usage.output_tokens == 6
    row = usage_of(multi, key, 1)[("claude", MODEL)]
    # The stand-in's prompt: 3 per message plus its words.
    assert (row["input_tokens"], row["output_tokens"]) == (5, 6)
    assert row["cost_micro_usd"] == cost(5, 0, 0, 6)


def test_the_async_client_streams_and_counts_tokens(multi: ServerProcess) -> None:
    key = new_key(multi)

    async def run() -> tuple[int, list[str]]:
        async with anthropic.AsyncAnthropic(
            base_url=multi.url, api_key=key.value, max_retries=0
        ) as sdk:
            counted = await sdk.messages.count_tokens(model=MODEL, messages=HELLO["messages"])
            stream = await sdk.messages.create(**HELLO, stream=True)
            kinds = [event.type async for event in stream]
            return counted.input_tokens, kinds

    counted, kinds = asyncio.run(run())
    assert counted == 5
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "message_delta" in kinds
    metered = usage_of(multi, key, 1)
    assert metered[("claude", MODEL)]["output_tokens"] == 5


def test_a_bearer_token_works_as_well_as_x_api_key(multi: ServerProcess) -> None:
    key = new_key(multi)
    sdk = anthropic.Anthropic(base_url=multi.url, auth_token=key.value, max_retries=0)
    assert sdk.messages.create(**HELLO).usage.output_tokens == 5


def test_chat_completions_for_a_claude_model_go_to_anthropics_openai_compatible_endpoint(
    multi: ServerProcess, anthropic_upstream: UpstreamProcess
) -> None:
    import openai

    key = new_key(multi)
    sdk = openai.OpenAI(base_url=f"{multi.url}/v1", api_key=key.value, max_retries=0)
    answer = sdk.chat.completions.create(
        model=MODEL, max_tokens=4, messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.usage is not None and answer.usage.completion_tokens == 4
    sent = requests_to(anthropic_upstream)[-1]
    assert (sent["path"], sent["auth"]) == ("/v1/chat/completions", "valid")
    row = usage_of(multi, key, 1)[("claude", MODEL)]
    assert (row["input_tokens"], row["output_tokens"]) == (4, 4)


def _revoked(server: ServerProcess) -> str:
    key = new_key(server)
    response = httpx.delete(
        f"{server.url}/v1/organization/projects/{server.project_id}/api_keys/{key.id}",
        headers={"Authorization": f"Bearer {server.admin_key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    time.sleep(1.1)  # the key cache holds a key for at most a second
    return key.value


@pytest.mark.parametrize(
    ("fields", "body", "error", "kind"),
    [
        (None, HELLO, anthropic.AuthenticationError, "authentication_error"),
        ("revoked", HELLO, anthropic.AuthenticationError, "authentication_error"),
        (
            {"permissions": {"mode": "restricted", "scopes": ["chat.completions.write"]}},
            HELLO,
            anthropic.PermissionDeniedError,
            "permission_error",
        ),
        (
            {"allowed_models": ["claude-opus-*"]},
            HELLO,
            anthropic.PermissionDeniedError,
            "permission_error",
        ),
        (
            {"allowed_ips": ["192.0.2.0/24"]},
            HELLO,
            anthropic.PermissionDeniedError,
            "permission_error",
        ),
        ({}, {**HELLO, "model": "llama-3"}, anthropic.NotFoundError, "not_found_error"),
        ({}, {**HELLO, "model": "gpt-4o"}, anthropic.BadRequestError, "invalid_request_error"),
        (
            {"budget": {"limit_usd": "0.000001"}},
            HELLO,
            anthropic.RateLimitError,
            "rate_limit_error",
        ),
    ],
)
def test_each_refusal_has_anthropics_error_shape_and_status(
    multi: ServerProcess,
    fields: dict[str, Any] | str | None,
    body: dict[str, Any],
    error: type[anthropic.APIStatusError],
    kind: str,
) -> None:
    if fields is None:
        value = "kp_proj_not-a-real-key"
    elif fields == "revoked":
        value = _revoked(multi)
    else:
        assert isinstance(fields, dict)
        value = new_key(multi, **fields).value
    sdk = anthropic.Anthropic(base_url=multi.url, api_key=value, max_retries=0)
    with pytest.raises(error) as raised:
        sdk.messages.create(**body)
    shape: Any = raised.value.body
    assert set(shape) == {"type", "error"} and shape["type"] == "error"
    assert shape["error"]["type"] == kind and set(shape["error"]) == {"type", "message"}
    assert shape["error"]["message"] and value not in shape["error"]["message"]


def test_a_rate_limit_refuses_the_next_message_with_retry_after(multi: ServerProcess) -> None:
    key = new_key(multi, rate_limits={"requests_per_minute": 1})
    sdk = client(multi, key)
    sdk.messages.create(**HELLO)
    with pytest.raises(anthropic.RateLimitError) as raised:
        sdk.messages.create(**HELLO)
    assert int(raised.value.response.headers["retry-after"]) >= 1


def test_the_messages_scope_allows_messages_and_nothing_else(multi: ServerProcess) -> None:
    import openai

    key = new_key(multi, permissions={"mode": "restricted", "scopes": ["messages.write"]})
    assert client(multi, key).messages.create(**HELLO).usage.output_tokens == 5
    sdk = openai.OpenAI(base_url=f"{multi.url}/v1", api_key=key.value, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as raised:
        sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert raised.value.code == "missing_scope"


def test_the_sdk_lists_and_retrieves_models_in_anthropics_shape(multi: ServerProcess) -> None:
    sdk = client(multi, new_key(multi, allowed_models=["claude-*"]))
    listed = [model.id for model in sdk.models.list()]
    assert MODEL in listed and all(ident.startswith("claude-") for ident in listed)
    found = sdk.models.retrieve(MODEL)
    assert (found.id, found.type) == (MODEL, "model")
    with pytest.raises(anthropic.NotFoundError):
        sdk.models.retrieve("gpt-4o")
