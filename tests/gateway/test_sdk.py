"""The official ``openai`` SDK, sync and async, against a real keyplane in front of the stand-in."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from gateway.conftest import UPSTREAM_KEY, create_key, upstream_log
from keyplane.testing import UpstreamProcess
from support.server import ServerProcess

CHAT: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "two words"}],
}


def client(server: ServerProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def direct(upstream: UpstreamProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=upstream.base_url, api_key=UPSTREAM_KEY, max_retries=0)


def _stable(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer without what differs per call (ids and clock)."""
    return {k: v for k, v in answer.items() if k not in ("id", "created", "created_at")}


@pytest.fixture(scope="module")
def key(gateway: ServerProcess) -> str:
    return create_key(gateway)


def test_chat_completion_equals_the_upstream_answer(
    gateway: ServerProcess, upstream: UpstreamProcess, key: str
) -> None:
    through = client(gateway, key).chat.completions.create(**CHAT, max_tokens=7)
    straight = direct(upstream).chat.completions.create(**CHAT, max_tokens=7)
    assert _stable(through.model_dump()) == _stable(straight.model_dump())
    assert through.usage is not None and through.usage.completion_tokens == 7


def test_completions_embeddings_and_responses_pass_through(
    gateway: ServerProcess, upstream: UpstreamProcess, key: str
) -> None:
    sdk, plain = client(gateway, key), direct(upstream)
    calls: tuple[Callable[[openai.OpenAI], Any], ...] = (
        lambda c: c.completions.create(model="gpt-3.5-turbo-instruct", prompt="a b c"),
        lambda c: c.embeddings.create(model="text-embedding-3-small", input=["x y", "z"]),
        lambda c: c.responses.create(model="gpt-4o", input="hello there", max_output_tokens=5),
    )
    for call in calls:
        through, straight = call(sdk).model_dump(), call(plain).model_dump()
        through.pop("output", None), straight.pop("output", None)  # message ids differ
        assert _stable(through) == _stable(straight)


def test_if_client_did_not_ask_for_usage_then_stream_has_no_usage_chunk(
    gateway: ServerProcess, upstream: UpstreamProcess, key: str
) -> None:
    chunks = list(client(gateway, key).chat.completions.create(**CHAT, max_tokens=4, stream=True))
    straight = list(direct(upstream).chat.completions.create(**CHAT, max_tokens=4, stream=True))
    assert [_stable(c.model_dump()) for c in chunks] == [_stable(c.model_dump()) for c in straight]
    assert all(c.usage is None and c.choices for c in chunks)
    sent = upstream_log(upstream)[-2]["body"]  # keyplane asked upstream for usage anyway
    assert sent["stream_options"] == {"include_usage": True}


def test_if_client_asked_for_usage_then_stream_keeps_it(gateway: ServerProcess, key: str) -> None:
    stream = client(gateway, key).chat.completions.create(
        **CHAT, max_tokens=4, stream=True, stream_options={"include_usage": True}
    )
    last = list(stream)[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == 4


async def test_async_streams_of_chat_and_responses(gateway: ServerProcess, key: str) -> None:
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)
    text = ""
    async for chunk in await sdk.chat.completions.create(**CHAT, max_tokens=3, stream=True):
        text += chunk.choices[0].delta.content or ""
    assert text.split() == ["lorem", "ipsum", "dolor"]
    events = [e async for e in await sdk.responses.create(model="gpt-4o", input="x", stream=True)]
    assert events[-1].type == "response.completed"
    answer = await sdk.chat.completions.create(**CHAT)
    assert answer.choices[0].message.content
    await sdk.close()


def test_client_key_never_reaches_upstream(
    gateway: ServerProcess, upstream: UpstreamProcess, key: str
) -> None:
    client(gateway, key).chat.completions.create(**CHAT, extra_headers={"x-probe": "1"})
    entry = upstream_log(upstream)[-1]
    assert entry["auth"] == "valid" and entry["headers"]["x-probe"] == "1"
    assert key not in str(entry)


def test_models_lists_only_allowed_models(gateway: ServerProcess) -> None:
    sdk = client(gateway, create_key(gateway, allowed_models=["gpt-4o*"]))
    ids = [model.id for model in sdk.models.list()]
    assert ids and all(model_id.startswith("gpt-4o") for model_id in ids)
    assert sdk.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("gpt-4.1")


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"permissions": {"mode": "restricted", "scopes": ["models.read"]}}, "missing_scope"),
        ({"allowed_models": ["gpt-4.1"]}, "model_not_allowed"),
        ({"allowed_ips": ["192.0.2.0/24"]}, "ip_not_allowed"),
    ],
)
def test_if_key_lacks_scope_model_or_address_then_permission_denied(
    gateway: ServerProcess, fields: dict[str, Any], error: str
) -> None:
    with pytest.raises(openai.PermissionDeniedError) as raised:
        client(gateway, create_key(gateway, **fields)).chat.completions.create(**CHAT)
    assert raised.value.code == error


def test_if_key_allows_the_address_then_call_passes(gateway: ServerProcess) -> None:
    sdk = client(gateway, create_key(gateway, allowed_ips=["127.0.0.0/8"]))
    assert sdk.chat.completions.create(**CHAT).choices


def test_a_spoofed_forwarded_for_does_not_pass_the_ip_allow_list(gateway: ServerProcess) -> None:
    # No trusted proxies are configured: the peer (127.0.0.1) is the client, whatever it claims.
    sdk = client(gateway, create_key(gateway, allowed_ips=["192.0.2.0/24"]))
    with pytest.raises(openai.PermissionDeniedError) as raised:
        sdk.chat.completions.create(**CHAT, extra_headers={"X-Forwarded-For": "192.0.2.7"})
    assert raised.value.code == "ip_not_allowed"


def test_if_admin_key_then_permission_denied(gateway: ServerProcess) -> None:
    with pytest.raises(openai.PermissionDeniedError):
        client(gateway, gateway.admin_key).chat.completions.create(**CHAT)


@pytest.mark.parametrize("bad", ["not-a-key", "kp_proj_" + "A" * 38, "sk-" + "a" * 40])
def test_if_key_is_wrong_or_missing_then_authentication_error(
    gateway: ServerProcess, bad: str
) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(gateway, bad).chat.completions.create(**CHAT)


def test_if_no_key_then_401_in_openai_envelope(gateway: ServerProcess) -> None:
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json=CHAT)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_if_key_revoked_then_refused_within_a_second(gateway: ServerProcess) -> None:
    key = create_key(gateway)
    sdk = client(gateway, key)
    sdk.chat.completions.create(**CHAT)
    key_id = httpx.post(
        f"{gateway.url}/v1/keys/verify",
        json={"key": key},
        headers={"Authorization": f"Bearer {gateway.admin_key}"},
    ).json()["key_id"]
    revoked = httpx.delete(
        f"{gateway.url}/v1/organization/projects/{gateway.project_id}/api_keys/{key_id}",
        headers={"Authorization": f"Bearer {gateway.admin_key}"},
    )
    assert revoked.status_code == 200, revoked.text
    time.sleep(1.1)
    with pytest.raises(openai.AuthenticationError):
        sdk.chat.completions.create(**CHAT)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        # 401, 403 and a 404 without model_not_found refuse keyplane's own key or URL: a
        # 502 (tests/gateway/test_refusals.py, tests/cli/test_demo_and_gateway.py).
        (400, openai.BadRequestError),
        (422, openai.UnprocessableEntityError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_upstream_errors_pass_through_with_their_status(
    gateway: ServerProcess, key: str, status: int, error: type[openai.APIStatusError]
) -> None:
    with pytest.raises(error) as raised:
        client(gateway, key).chat.completions.create(
            **CHAT, extra_headers={"x-test-status": str(status)}
        )
    assert raised.value.status_code == status
    assert "Injected error: HTTP" in raised.value.message


def test_if_upstream_is_too_slow_then_504(gateway: ServerProcess, key: str) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        client(gateway, key).chat.completions.create(
            **CHAT, extra_headers={"x-test-delay-ms": "3000"}
        )
    assert raised.value.status_code == 504


def test_if_body_is_not_json_then_400(gateway: ServerProcess, key: str) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=b"{nope",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_upstream_error_is_metered_and_refusals_are_not(gateway: ServerProcess) -> None:
    key = create_key(gateway, allowed_models=["gpt-4o-mini"])
    sdk = client(gateway, key)
    with pytest.raises(openai.InternalServerError):
        sdk.chat.completions.create(**CHAT, extra_headers={"x-test-status": "500"})
    with pytest.raises(openai.PermissionDeniedError):  # refused here: never reached upstream
        sdk.chat.completions.create(**{**CHAT, "model": "gpt-4o"})
    sdk.chat.completions.create(**CHAT, max_tokens=2)
    time.sleep(0.6)  # the gateway fixture flushes every 0.2 s
    with sqlite3.connect(gateway.workdir / ".keyplane" / "keyplane.db") as connection:
        rows = connection.execute(
            "SELECT b.model, SUM(requests), SUM(error_requests), SUM(output_tokens)"
            " FROM usage_buckets b JOIN api_keys k ON k.id = b.api_key_id"
            " WHERE k.redacted_value = ? GROUP BY b.model",
            (key[:8] + "..." + key[-4:],),
        ).fetchall()
    assert rows == [("gpt-4o-mini", 2, 1, 2)]
