"""Upstream hygiene through a real server: the provider's account headers and cookies stay
behind, and the provider key is masked wherever an answer would carry it."""

from __future__ import annotations

import httpx
import pytest

from gateway.conftest import UPSTREAM_KEY, create_key
from keyplane.gateway.hygiene import KeyMasker
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
