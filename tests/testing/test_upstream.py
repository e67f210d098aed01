"""The stand-in OpenAI upstream, driven by the official ``openai`` SDK against a real process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

import keyplane.testing
from keyplane.testing import (
    DEFAULT_COMPLETION_TOKENS,
    MESSAGE_OVERHEAD,
    UpstreamProcess,
    count_prompt_tokens,
    count_words,
    create_upstream_app,
    expected_usage,
    start_upstream_process,
)
from keyplane.testing.payloads import embedding_vector
from keyplane.testing.tokens import Endpoint

API_KEY = "sk-test-upstream-key"
MESSAGES: list[Any] = [
    {"role": "system", "content": "You answer briefly"},
    {"role": "user", "content": "How are API keys rotated safely?"},
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamProcess]:
    with start_upstream_process(api_key=API_KEY) as process:
        yield process


@pytest.fixture
def client(upstream: UpstreamProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key=API_KEY, base_url=upstream.base_url, max_retries=0) as client:
        yield client


def _log(upstream: UpstreamProcess) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = httpx.get(f"{upstream.url}/_test/requests").json()["data"]
    return data


def test_public_names() -> None:
    assert set(keyplane.testing.__all__) == {
        "DEFAULT_COMPLETION_TOKENS",
        "MESSAGE_OVERHEAD",
        "REQUEST_LOG_SIZE",
        "TokenCounts",
        "UpstreamApp",
        "UpstreamProcess",
        "count_completion_tokens",
        "count_prompt_tokens",
        "count_words",
        "create_upstream_app",
        "expected_usage",
        "start_upstream_process",
    }


@pytest.mark.parametrize(
    ("endpoint", "body", "tokens"),
    [
        ("chat", {"messages": [{"role": "user", "content": "one two  three"}]}, 3 + 3),
        ("chat", {"messages": [{"role": "user", "content": [{"type": "text", "text": "a b"}]}]}, 5),
        ("chat", {"messages": [{"role": "assistant", "content": None}]}, 3),
        ("completions", {"prompt": "Say this is a test"}, 5),
        ("completions", {"prompt": ["a b", "c"]}, 3),
        ("completions", {"prompt": [101, 102, 103]}, 3),
        ("embeddings", {"input": [[1, 2], [3]]}, 3),
        ("responses", {"input": "hello world"}, 3 + 2),
        ("responses", {"input": "hi", "instructions": "be kind"}, 3 + 1 + 3 + 2),
        ("responses", {"input": [{"role": "user", "content": [{"text": "x y"}]}]}, 3 + 2),
    ],
)
def test_prompt_tokens_follow_the_documented_rule(
    endpoint: Endpoint, body: dict[str, Any], tokens: int
) -> None:
    assert count_prompt_tokens(endpoint, body) == tokens


def test_chat_completion_reports_the_documented_usage(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=5)

    expected = expected_usage("chat", {"messages": MESSAGES, "max_tokens": 5})
    assert expected.prompt == 3 + 3 + 3 + 6  # two messages: overhead plus words each
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o"
    assert count_words(completion.choices[0].message.content or "") == 5
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == expected.prompt
    assert completion.usage.completion_tokens == 5
    assert completion.usage.total_tokens == expected.total
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 0


def test_chat_without_a_limit_answers_the_default_length(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="unknown-model", messages=MESSAGES)

    assert completion.model == "unknown-model"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == DEFAULT_COMPLETION_TOKENS


def test_streamed_chat_ends_with_a_usage_chunk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        max_completion_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    *content, last = chunks
    text = "".join(chunk.choices[0].delta.content or "" for chunk in content)
    assert count_words(text) == 4
    assert all(chunk.usage is None and len(chunk.choices) == 1 for chunk in content)
    assert content[-1].choices[0].finish_reason == "stop"
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == count_prompt_tokens("chat", {"messages": MESSAGES})
    assert last.usage.completion_tokens == 4


def test_streamed_chat_without_include_usage_has_no_usage(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))

    assert all(chunk.usage is None and chunk.choices for chunk in chunks)


def test_completions_plain_and_streamed(client: openai.OpenAI) -> None:
    completion = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="a b c", max_tokens=3
    )
    stream = client.completions.create(
        model="gpt-3.5-turbo-instruct",
        prompt="a b c",
        max_tokens=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert completion.object == "text_completion"
    assert count_words(completion.choices[0].text) == 3
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3, 3)
    assert "".join(c.choices[0].text for c in chunks[:-1]) == completion.choices[0].text
    assert chunks[-1].usage == completion.usage


def test_embeddings_as_floats_and_as_base64(
    client: openai.OpenAI, upstream: UpstreamProcess
) -> None:
    floats = client.embeddings.create(
        model="text-embedding-3-small", input=["a b", "c"], dimensions=8, encoding_format="float"
    )
    # Without encoding_format the SDK asks for base64 and decodes it to float32s.
    decoded = client.embeddings.create(model="text-embedding-3-small", input="a b c", dimensions=8)

    assert [item.index for item in floats.data] == [0, 1]
    assert floats.data[0].embedding == list(embedding_vector(8))
    assert floats.usage.prompt_tokens == floats.usage.total_tokens == 3
    assert decoded.data[0].embedding == pytest.approx(list(embedding_vector(8)), rel=1e-6)
    assert _log(upstream)[-1]["body"]["encoding_format"] == "base64"


def test_responses_plain(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4.1", input="hello there", instructions="be brief", max_output_tokens=6
    )

    assert response.object == "response"
    assert response.status == "completed"
    assert count_words(response.output_text) == 6
    assert response.usage is not None
    assert response.usage.input_tokens == MESSAGE_OVERHEAD * 2 + 2 + 2
    assert response.usage.output_tokens == 6
    assert response.usage.total_tokens == response.usage.input_tokens + 6
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


def test_responses_streamed(client: openai.OpenAI) -> None:
    events = list(
        client.responses.create(model="gpt-4.1", input="hi", max_output_tokens=3, stream=True)
    )

    types = [event.type for event in events]
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"
    assert types.count("response.output_text.delta") == 3
    assert [event.sequence_number for event in events] == list(range(len(events)))
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.usage is not None
    assert completed.response.usage.output_tokens == 3
    assert completed.response.output_text == "".join(
        event.delta for event in events if event.type == "response.output_text.delta"
    )


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]

    assert "gpt-4o" in ids
    assert client.models.retrieve("gpt-4o").owned_by == "keyplane-stand-in"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("unknown-model")
    assert caught.value.code == "model_not_found"


def test_if_wrong_key_then_authentication_error(upstream: UpstreamProcess) -> None:
    bad = openai.OpenAI(api_key="sk-wrong", base_url=upstream.base_url, max_retries=0)
    with bad, pytest.raises(openai.AuthenticationError) as caught:
        bad.models.list()

    assert caught.value.code == "invalid_api_key"
    assert "sk-wrong" not in str(caught.value)
    entry = _log(upstream)[-1]
    assert entry["auth"] == "invalid"
    assert "authorization" not in entry["headers"]


def test_injected_status_raises_the_sdk_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, extra_headers={"x-test-status": "500"}
        )
    with pytest.raises(openai.RateLimitError):
        client.models.list(extra_headers={"x-test-status": "429"})


def test_stream_delay_spaces_the_frames(client: openai.OpenAI) -> None:
    started = time.monotonic()
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        max_tokens=2,
        stream=True,
        extra_headers={"x-test-stream-delay-ms": "40"},
    )
    chunks = list(stream)

    # A role chunk, two words and a stop chunk, then [DONE]: four gaps between five frames.
    assert len(chunks) == 4
    assert time.monotonic() - started >= 4 * 0.04


def test_injected_delay_lets_a_client_time_out(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.1).models.list(extra_headers={"x-test-delay-ms": "500"})


@pytest.mark.parametrize(
    "hook",
    [
        {"extra_headers": {"x-test-usage": "prompt=7,completion=11,cached=3"}},
        {"metadata": {"test_usage": "prompt=7,completion=11,cached=3"}},
    ],
)
def test_forced_usage_is_reported(client: openai.OpenAI, hook: dict[str, Any]) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, **hook)

    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7, 11)
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 3
    assert count_words(completion.choices[0].message.content or "") == 11


def test_malformed_hook_is_a_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.models.list(extra_headers={"x-test-usage": "prompt=lots"})


def test_request_log_records_bodies_and_can_be_cleared(
    client: openai.OpenAI, upstream: UpstreamProcess
) -> None:
    client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ).close()

    entry = _log(upstream)[-1]
    assert (entry["method"], entry["path"], entry["auth"]) == (
        "POST",
        "/v1/chat/completions",
        "valid",
    )
    assert entry["body"]["stream_options"] == {"include_usage": True}
    assert API_KEY not in str(entry)
    assert httpx.delete(f"{upstream.url}/_test/requests").json()["deleted"] >= 1
    assert _log(upstream) == []


async def test_request_log_keeps_only_the_latest_requests() -> None:
    app = create_upstream_app(api_key=API_KEY, log_size=2)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://upstream") as http:
        for path in ("/v1/models", "/v1/models/gpt-4o", "/v1/models/gpt-4.1"):
            assert (await http.get(path, headers=headers)).status_code == 200
        log = (await http.get("/_test/requests")).json()["data"]

    assert [entry["path"] for entry in log] == ["/v1/models/gpt-4o", "/v1/models/gpt-4.1"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "param"),
    [
        ("POST", "/v1/chat/completions", b"{not json", 400, None),
        ("POST", "/v1/chat/completions", b"[]", 400, None),
        ("POST", "/v1/chat/completions", b'{"messages": []}', 400, "model"),
        ("POST", "/v1/chat/completions", b'{"model": "m", "messages": "hi"}', 400, "messages"),
        ("POST", "/v1/embeddings", b'{"model": "m", "input": 5}', 400, "input"),
        (
            "POST",
            "/v1/embeddings",
            b'{"model": "m", "input": "a", "dimensions": 0}',
            400,
            "dimensions",
        ),
        (
            "POST",
            "/v1/completions",
            b'{"model": "m", "prompt": "a", "max_tokens": -1}',
            400,
            None,
        ),
        ("POST", "/v1/unknown", b"{}", 404, None),
    ],
)
async def test_if_request_is_malformed_then_openai_error_not_500(
    method: str, path: str, body: bytes, status: int, param: str | None
) -> None:
    app = create_upstream_app(api_key=API_KEY)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://upstream") as http:
        response = await http.request(method, path, content=body, headers=headers)

    assert response.status_code == status
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert response.json()["error"]["param"] == param
