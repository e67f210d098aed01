"""Upstream hygiene through a real server: the provider's account headers and cookies stay
behind, and the provider key is masked wherever an answer would carry it."""

from __future__ import annotations

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from gateway.conftest import UPSTREAM_KEY, create_key
from keyplane.gateway.hygiene import KeyMasker, ProviderHygiene
from support.server import ServerProcess

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _chat(gateway: ServerProcess, key: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {key}", **headers},
        timeout=30,
    )


@pytest.mark.parametrize("stream", [False, True])
def test_if_upstream_names_its_account_then_those_headers_are_not_relayed(
    gateway: ServerProcess, stream: bool
) -> None:
    key = create_key(gateway)
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={**CHAT, "stream": stream},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200
    for name in ("openai-organization", "openai-project", "set-cookie"):
        assert name not in response.headers
    assert "x-request-id" in response.headers  # the rest of the upstream's headers do come


def test_if_upstream_error_echoes_the_provider_key_then_the_client_never_sees_it(
    gateway: ServerProcess,
) -> None:
    key = create_key(gateway)
    response = _chat(gateway, key, **{"x-test-echo-auth": "1"})
    assert response.status_code == 400
    assert UPSTREAM_KEY not in response.text
    assert "*" * len(UPSTREAM_KEY) in response.json()["error"]["message"]


def test_if_models_listing_is_asked_then_no_provider_headers_either(
    gateway: ServerProcess,
) -> None:
    key = create_key(gateway)
    response = httpx.get(
        f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert response.status_code == 200
    assert "openai-organization" not in response.headers


SECRET = b"sk-provider-secret-0123456789"


@pytest.mark.parametrize("cut", [1, 3, 10, len(SECRET) - 1])
def test_if_the_key_is_split_across_stream_chunks_then_it_is_still_masked(cut: int) -> None:
    masker = KeyMasker((SECRET,))
    text = b'data: {"echo": "' + SECRET + b'"}\n\n'
    start = text.index(SECRET) + cut
    out = masker.feed(text[:start], final=False) + masker.feed(text[start:], final=True)
    assert SECRET not in out
    assert len(out) == len(text)


def test_if_a_chunk_cannot_begin_the_key_then_nothing_is_held_back() -> None:
    masker = KeyMasker((SECRET,))
    frame = b'data: {"choices": []}\n\n'
    assert masker.feed(frame, final=False) == frame


async def _answer_with_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers a client gets when the app behind ``ProviderHygiene`` answers with these."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/v1/chat/completions"}
    await ProviderHygiene(app, secrets=[SECRET.decode()])(scope, receive, send)
    relayed: list[tuple[bytes, bytes]] = sent[0]["headers"]
    return relayed


async def test_if_a_header_carries_the_provider_key_then_only_the_key_is_masked() -> None:
    relayed = await _answer_with_headers(
        [
            (b"x-request-id", b"req_1"),
            (b"x-echo", b"Bearer " + SECRET),
            (b"openai-organization", b"org-keyplane"),
            (b"x-ratelimit-limit-requests", b"500"),
        ]
    )
    assert relayed == [
        (b"x-request-id", b"req_1"),
        (b"x-echo", b"Bearer " + b"*" * len(SECRET)),
        (b"x-ratelimit-limit-requests", b"500"),
    ]


async def test_if_no_header_carries_the_key_then_the_headers_pass_as_they_are() -> None:
    # Half of the key at the end of one value and half at the start of the next is no key.
    half = len(SECRET) // 2
    headers = [(b"x-a", b"ends " + SECRET[:half]), (b"x-b", SECRET[half:] + b" starts")]
    assert await _answer_with_headers(headers) == headers
