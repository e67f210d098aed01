"""Fuzzing the gateway routes of a real server with hypothesis: whatever JSON (or not JSON)
a caller with a valid key sends, the answer is never a 5xx, and every refusal is OpenAI's
error envelope. Bounded: a few hundred cases, well under two minutes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.conftest import create_key
from support.server import ServerProcess

PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"]

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=40,
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "assistant", "tool"]) | st.text()},
        optional={"content": json_values, "name": json_values, "tool_calls": json_values},
    ),
    max_size=4,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["gpt-4o-mini", "text-embedding-3-small"]) | st.text(),
        "messages": messages | json_values,
        "input": json_values,
        "prompt": json_values,
        "stream": st.booleans() | json_values,
        "stream_options": json_values,
        "max_tokens": st.integers() | json_values,
        "max_output_tokens": st.integers() | json_values,
        "n": st.integers(),
    },
)
raw = st.binary(max_size=200) | st.text(max_size=200).map(str.encode)


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["message"], str) and error["message"]


@pytest.fixture(scope="module")
def key(gateway: ServerProcess) -> str:
    return create_key(gateway)


@pytest.mark.slow
def test_if_gateway_gets_arbitrary_json_then_never_a_5xx(gateway: ServerProcess, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=30) as client:

        @given(path=st.sampled_from(PATHS), body=bodies | json_values)
        @settings(
            max_examples=250,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def fuzz(path: str, body: Any) -> None:
            with client.stream("POST", path, content=json.dumps(body).encode()) as response:
                response.read()
                if response.headers.get("content-type", "").startswith("text/event-stream"):
                    assert response.status_code == 200
                    return
                _check(response)

        fuzz()


@pytest.mark.slow
def test_if_gateway_gets_bytes_that_are_not_json_then_400(gateway: ServerProcess, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=30) as client:

        @given(path=st.sampled_from(PATHS), body=raw)
        @settings(max_examples=60, deadline=None, database=None, derandomize=True)
        def fuzz(path: str, body: bytes) -> None:
            _check(client.post(path, content=body))

        fuzz()


@pytest.mark.slow
def test_if_model_paths_are_arbitrary_then_never_a_5xx(gateway: ServerProcess, key: str) -> None:
    with httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:

        @given(model=st.text(min_size=1, max_size=300))
        @settings(max_examples=60, deadline=None, database=None, derandomize=True)
        def fuzz(model: str) -> None:
            _check(client.get("/v1/models/" + quote(model, safe="")))

        fuzz()
