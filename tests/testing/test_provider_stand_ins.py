"""The Anthropic- and Azure-shaped stand-ins, driven by the official SDKs in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from keyplane.testing.anthropic import create_anthropic_upstream_app
from keyplane.testing.azure import create_azure_upstream_app

KEY = "sk-stand-in-provider-key"
HELLO: dict[str, Any] = {
    "model": "claude-haiku-4-5",
    "max_tokens": 4,
    "system": "be brief",
    "messages": [{"role": "user", "content": "three words here"}],
}


def anthropic_client(app: Any, key: str = KEY) -> anthropic.AsyncAnthropic:
    # The anthropic SDK runs on httpx2, which has its own in-process ASGI transport.
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app))
    return anthropic.AsyncAnthropic(
        base_url="http://claude.test", api_key=key, http_client=http, max_retries=0
    )


@pytest.fixture
async def claude() -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic_client(create_anthropic_upstream_app(api_key=KEY)) as sdk:
        yield sdk


async def test_anthropic_stand_in_answers_a_message_with_split_cache_usage(
    claude: anthropic.AsyncAnthropic,
) -> None:
    forced = {"x-test-usage": "prompt=30,cached=10,cache_write=5"}
    answer = await claude.messages.create(**HELLO, extra_headers=forced)
    text = answer.content[0]
    assert text.type == "text" and len(text.text.split()) == 4
    usage = answer.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens) == (15, 10)
    assert (usage.cache_creation_input_tokens, usage.output_tokens) == (5, 4)


async def test_anthropic_stand_in_counts_system_and_messages_and_streams_events(
    claude: anthropic.AsyncAnthropic,
) -> None:
    counted = await claude.messages.count_tokens(
        model=HELLO["model"], system=HELLO["system"], messages=HELLO["messages"]
    )
    assert counted.input_tokens == 3 + 3 + 2  # per message, its words, the system's words
    async with claude.messages.stream(**HELLO) as stream:
        words = "".join([text async for text in stream.text_stream])
        final = await stream.get_final_message()
    assert len(words.split()) == 4 and final.usage.output_tokens == 4
    assert final.usage.input_tokens == 8


async def test_anthropic_stand_in_refuses_a_wrong_key_in_anthropics_shape() -> None:
    app = create_anthropic_upstream_app(api_key=KEY)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://claude.test") as http,
        anthropic_client(app, key="wrong") as sdk,
    ):
        with pytest.raises(anthropic.AuthenticationError) as raised:
            await sdk.messages.create(**HELLO)
        assert raised.value.body == {
            "type": "error",
            "error": {"type": "authentication_error", "message": "Incorrect API key provided."},
        }
        missing = await http.post("/v1/messages", json=HELLO, headers={"x-api-key": KEY})
        assert missing.status_code == 400 and "anthropic-version" in missing.text


async def test_a_failing_stand_in_answers_every_call_with_its_status() -> None:
    app = create_anthropic_upstream_app(api_key=KEY, fail_status=529)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://claude.test") as http:
        headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
        answer = await http.post("/v1/messages", json=HELLO, headers=headers)
    assert answer.status_code == 529
    assert answer.json()["error"]["type"] == "overloaded_error"


async def test_azure_stand_in_serves_deployments_with_api_version_and_api_key() -> None:
    transport = httpx.ASGITransport(app=create_azure_upstream_app(api_key=KEY))
    async with httpx.AsyncClient(transport=transport, base_url="http://azure.test") as http:
        # The SDK's stubs name their own vendored httpx client; any httpx-compatible one works.
        sdk = openai.AsyncAzureOpenAI(  # type: ignore[call-overload]
            azure_endpoint="http://azure.test",
            api_key=KEY,
            api_version="2024-10-21",
            http_client=http,
            max_retries=0,
        )
        answer = await sdk.chat.completions.create(
            model="prod-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=3
        )
        assert answer.model == "prod-4o" and answer.usage is not None
        assert answer.usage.completion_tokens == 3
        no_version = await http.post(
            "/openai/deployments/prod-4o/chat/completions", json={}, headers={"api-key": KEY}
        )
        assert no_version.status_code == 400
        bearer = await http.post(
            "/openai/deployments/prod-4o/chat/completions?api-version=1",
            json={"messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {KEY}"},
        )
        assert bearer.status_code == 401  # Azure's key travels in api-key
