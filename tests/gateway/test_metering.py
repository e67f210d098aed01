"""Every call that reached upstream is metered with what it used, whatever became of its
stream: a client that hangs up, an upstream that cuts the stream, a shutdown that outlives its
grace. Real ``keyplane serve`` processes, the official ``openai`` SDK as the client, and
``bpe-openai`` counting what the client really received."""

from __future__ import annotations

import signal
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpe_openai
import httpx
import openai
import pytest

from gateway.conftest import create_key, gateway_process, settled_budget, verify_key
from keyplane.limits import estimate
from keyplane.testing import UpstreamProcess
from keyplane.usage.prices import PriceTable
from support.server import ServerProcess
from support.usage_results import key_usage

MODEL = "gpt-4o"  # o200k_base
PROMPT = "Tell me a long story about a lighthouse keeper, the sea and a storm at night."
MAX_TOKENS = 60
PRICE = PriceTable.load().price(MODEL)
ENCODING = bpe_openai.get_encoding("o200k_base")


def tokens(text: str) -> int:
    return len(ENCODING.encode_ordinary(text))


def sdk(server: ServerProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)


@dataclass
class Relayed:
    """What clients received of their calls, and what it costs counted with the tokenizer."""

    prompt_tokens: int
    texts: list[str] = field(default_factory=list)

    @property
    def cost(self) -> int:
        assert PRICE is not None
        return sum(
            PRICE.cost(input_tokens=self.prompt_tokens, cached_tokens=0, output_tokens=tokens(t))
            for t in self.texts
        )


def chat_until(
    client: openai.OpenAI, chunks: int, headers: dict[str, str], into: list[str]
) -> None:
    """A streamed chat call the client closes after ``chunks`` chunks; its text goes ``into``."""
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=MAX_TOKENS,
        stream=True,
        extra_headers=headers,
    )
    with stream:
        for number, chunk in enumerate(stream, start=1):
            into += [choice.delta.content or "" for choice in chunk.choices]
            if number == chunks:
                return


def responses_until(
    client: openai.OpenAI, events: int, headers: dict[str, str], into: list[str]
) -> None:
    """A streamed Responses call the client closes after ``events`` events."""
    stream = client.responses.create(
        model=MODEL, input=PROMPT, max_output_tokens=MAX_TOKENS, stream=True, extra_headers=headers
    )
    with stream:
        for number, event in enumerate(stream, start=1):
            if event.type == "response.output_text.delta":
                into.append(event.delta)
            if number == events:
                return


SLOW = {"x-test-stream-delay-ms": "20"}  # a full answer takes MAX_TOKENS x 20 ms


@pytest.mark.parametrize(
    ("call", "closed_after", "prompt_text"),
    [(chat_until, 6, PROMPT), (responses_until, 9, PROMPT)],
    ids=["chat", "responses"],
)
def test_if_clients_hang_up_on_streams_then_what_was_relayed_is_charged_and_the_budget_holds(
    gateway: ServerProcess, call: Any, closed_after: int, prompt_text: str
) -> None:
    body = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS}
    reservation = estimate.worst_case_cost(
        PriceTable.load(),
        MODEL,
        input_tokens=estimate.prompt_tokens(body),
        output_tokens=MAX_TOKENS,
    )
    budget = 4 * reservation  # four calls read to the end
    key = create_key(gateway, budget={"limit_usd": budget / 1e6, "period": "day"})
    client = sdk(gateway, key)
    relayed = Relayed(prompt_tokens=tokens(prompt_text))
    refusals: list[str | None] = []
    for _ in range(30):
        received: list[str] = []
        try:
            call(client, closed_after, SLOW, received)
        except openai.RateLimitError as error:
            refusals.append(error.code)
        else:
            relayed.texts.append("".join(received))
        settled_budget(gateway, key)  # one call at a time: nothing else is in flight
    spent = settled_budget(gateway, key)["spent_micro_usd"]
    assert all(relayed.texts), "every admitted call relayed some text"
    assert refusals, "hanging up must not make streams free"
    assert set(refusals) == {"insufficient_quota"}
    assert spent >= 0.95 * relayed.cost
    assert spent <= budget  # admitted: no more than the budget's worth
    usage = key_usage(gateway, verify_key(gateway, key)["key_id"], len(relayed.texts))
    assert usage["num_estimated_requests"] == len(relayed.texts)
    assert usage["cost_micro_usd"] == spent


CUT = {"x-test-stream-cut-after": "8"}


@pytest.mark.parametrize("cut", ["end", "drop"])
@pytest.mark.parametrize("call", [chat_until, responses_until], ids=["chat", "responses"])
def test_if_upstream_cuts_a_stream_then_the_sdk_raises_and_the_relayed_text_is_metered(
    gateway: ServerProcess, call: Any, cut: str
) -> None:
    key = create_key(gateway)
    received: list[str] = []
    with pytest.raises(openai.APIError, match="broke off"):
        call(sdk(gateway, key), 1000, {**CUT, "x-test-stream-cut": cut}, received)
    text = "".join(received)
    assert text, "the frames before the cut were relayed"
    usage = key_usage(gateway, verify_key(gateway, key)["key_id"], 1)
    assert usage["num_estimated_requests"] == 1
    assert usage["num_error_requests"] == 1  # metered as a 502
    assert usage["output_tokens"] >= 0.95 * tokens(text)
    assert usage["input_tokens"] >= 0.95 * tokens(PROMPT)


def test_if_a_stream_outlives_the_shutdown_grace_then_what_was_relayed_is_metered(
    tmp_path: Path, upstream: UpstreamProcess
) -> None:
    server = gateway_process(tmp_path, upstream, KEYPLANE_USAGE_FLUSH_SECONDS="60")
    server.start()
    key = create_key(server)
    key_id = verify_key(server, key)["key_id"]
    received: list[str] = []
    stream = sdk(server, key).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=2000,  # 2000 x 50 ms: far longer than the 10 s grace
        stream=True,
        extra_headers={"x-test-stream-delay-ms": "50"},
    )
    assert server.process is not None
    with pytest.raises(openai.APIConnectionError):  # the server cut the connection
        read_while(stream, received, then=server.process.send_signal, after=5)
    server.process.wait(timeout=30)
    text = "".join(received)
    assert tokens(text) > 50  # the stream went on through the grace period
    with sqlite3.connect(tmp_path / ".keyplane" / "keyplane.db") as db:
        row = db.execute(
            "SELECT requests, estimated_requests, input_tokens, output_tokens "
            "FROM usage_buckets WHERE api_key_id = ?",
            (key_id,),
        ).fetchone()
    assert row is not None, "the call cut at shutdown was written by the final flush"
    requests, estimated, input_tokens, output_tokens = row
    assert (requests, estimated) == (1, 1)
    assert input_tokens >= 0.95 * tokens(PROMPT)
    assert output_tokens >= 0.95 * tokens(text)


def read_while(stream: Any, into: list[str], *, then: Any, after: int) -> None:
    """Read a chat stream to its end; after ``after`` chunks, ``then(SIGTERM)`` (once)."""
    for number, chunk in enumerate(stream):
        into += [choice.delta.content or "" for choice in chunk.choices]
        if number == after:
            then(signal.SIGTERM)


@pytest.mark.parametrize("newline", ["crlf", "cr"])
def test_crlf_and_cr_framed_streams_are_relayed_whole_and_metered_with_upstreams_usage(
    gateway: ServerProcess, newline: str
) -> None:
    key = create_key(gateway)
    stream = sdk(gateway, key).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hi there"}],
        max_tokens=7,
        stream=True,
        extra_headers={"x-test-sse-newline": newline},
    )
    chunks = list(stream)
    text = "".join(choice.delta.content or "" for chunk in chunks for choice in chunk.choices)
    assert text == "lorem ipsum dolor sit amet consectetur adipiscing"
    assert all(chunk.usage is None for chunk in chunks)  # keyplane's injected usage stripped
    usage = key_usage(gateway, verify_key(gateway, key)["key_id"], 1)
    assert usage["output_tokens"] == 7  # the stand-in's own count: upstream's usage was read
    assert usage["num_estimated_requests"] == 0


@pytest.mark.parametrize("newline", ["crlf", "cr"])
def test_crlf_and_cr_framed_events_are_relayed_as_they_come_not_at_the_end(
    gateway: ServerProcess, newline: str
) -> None:
    key = create_key(gateway)
    headers = {
        "Authorization": f"Bearer {key}",
        "x-test-sse-newline": newline,
        # The second frame comes 20 s after the first: a buffering relay would send nothing.
        "x-test-stream-delay-ms": "20000",
    }
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    started = time.monotonic()
    with (
        httpx.Client(timeout=httpx.Timeout(15)) as http,
        http.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, headers=headers) as r,
    ):
        first = next(r.iter_raw())
    assert time.monotonic() - started < 15
    assert first.startswith(b"data: {") and first.endswith(
        b"\r\n\r\n" if newline == "crlf" else b"\r\r"
    )


def test_a_large_prompt_of_a_hung_up_stream_is_counted_whole(gateway: ServerProcess) -> None:
    key = create_key(gateway)
    prompt = "The lighthouse keeper wrote in his log every night, 1889. " * 800  # ~47 KB
    stream = sdk(gateway, key).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=MAX_TOKENS,
        stream=True,
        extra_headers=SLOW,
    )
    with stream:
        next(iter(stream))
    usage = key_usage(gateway, verify_key(gateway, key)["key_id"], 1)
    assert usage["num_estimated_requests"] == 1
    assert usage["input_tokens"] >= tokens(prompt)
