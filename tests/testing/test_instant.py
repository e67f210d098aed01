"""The instant stand-in for throughput benchmarks answers the openai SDK like OpenAI would:
one fixed chat completion for the right key, a 401 in OpenAI's envelope for any other."""

from __future__ import annotations

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


def test_it_refuses_options_it_cannot_honour() -> None:
    with (
        pytest.raises(RuntimeError),
        start_upstream_process(api_key=API_KEY, provider="instant", workers=2, timeout=5),
    ):
        pass
