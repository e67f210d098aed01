"""The instant stand-in for throughput benchmarks answers the openai SDK like OpenAI would:
one fixed chat completion for the right key, a 401 in OpenAI's envelope for any other."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import openai
import pytest

from keyplane.testing import UpstreamProcess, start_upstream_process

API_KEY = "sk-test-instant-key"


@pytest.fixture(scope="module")
def instant() -> Iterator[UpstreamProcess]:
    with start_upstream_process(api_key=API_KEY, provider="instant") as process:
        yield process


def test_every_call_gets_the_same_completion_with_its_usage(instant: UpstreamProcess) -> None:
    client = openai.OpenAI(api_key=API_KEY, base_url=instant.base_url, max_retries=0)
    for _ in range(3):  # one kept-alive connection, several calls
        completion = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}], max_tokens=16
        )
        assert completion.choices[0].message.content
        assert completion.usage is not None
        assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 16)


def test_a_wrong_key_gets_openais_401(instant: UpstreamProcess) -> None:
    client = openai.OpenAI(api_key="sk-test-wrong", base_url=instant.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert refused.value.code == "invalid_api_key"


def test_with_a_delay_every_answer_comes_that_late_and_in_order() -> None:
    with start_upstream_process(api_key=API_KEY, provider="instant", delay_ms=50) as slow:
        client = openai.OpenAI(api_key=API_KEY, base_url=slow.base_url, max_retries=0)
        for _ in range(3):  # one kept-alive connection: each answer is its own call's
            started = time.perf_counter()
            completion = client.chat.completions.create(model="gpt-4o-mini", messages=[])
            assert time.perf_counter() - started >= 0.05
            assert completion.usage is not None
            assert completion.usage.completion_tokens == 16


def test_with_a_jitter_the_delays_spread_around_the_delay() -> None:
    with start_upstream_process(
        api_key=API_KEY, provider="instant", delay_ms=30, jitter_ms=20
    ) as slow:
        client = openai.OpenAI(api_key=API_KEY, base_url=slow.base_url, max_retries=0)
        seconds = []
        for _ in range(20):
            started = time.perf_counter()
            client.chat.completions.create(model="gpt-4o-mini", messages=[])
            seconds.append(time.perf_counter() - started)
    assert min(seconds) >= 0.010  # never sooner than the delay less the jitter
    assert max(seconds) - min(seconds) >= 0.005  # not one fixed delay (each draw is ±20 ms)


def test_with_a_jitter_a_pipelined_connections_answers_keep_their_order() -> None:
    def request(key: str) -> bytes:
        return (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}"
            "\r\nContent-Length: 2\r\n\r\n{}"
        ).encode()

    keys = [API_KEY if index % 2 else "sk-test-wrong" for index in range(12)]
    with (
        start_upstream_process(
            api_key=API_KEY, provider="instant", delay_ms=20, jitter_ms=20
        ) as slow,
        socket.create_connection(("127.0.0.1", slow.port), timeout=10) as sock,
    ):
        sock.sendall(b"".join(request(key) for key in keys))  # all before the first answer
        received = b""
        while received.count(b"HTTP/1.1 ") < len(keys) or not received.endswith(b"}"):
            received += sock.recv(65536)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", received)  # each answer follows a body's end
    assert statuses == [b"200" if key == API_KEY else b"401" for key in keys]


def test_it_refuses_options_it_cannot_honour() -> None:
    with (
        pytest.raises(RuntimeError),
        start_upstream_process(api_key=API_KEY, provider="instant", workers=2, timeout=5),
    ):
        pass


@pytest.mark.parametrize(
    ("provider", "delay_ms", "jitter_ms"),
    [("instant", 10, 11), ("instant", 0, 5), ("openai", 20, 5)],
    ids=["jitter-over-the-delay", "jitter-without-a-delay", "jitter-on-the-asgi-stand-in"],
)
def test_it_refuses_a_jitter_it_cannot_honour(provider: str, delay_ms: int, jitter_ms: int) -> None:
    with (
        pytest.raises(RuntimeError),
        start_upstream_process(
            api_key=API_KEY, provider=provider, delay_ms=delay_ms, jitter_ms=jitter_ms, timeout=5
        ),
    ):
        pass
