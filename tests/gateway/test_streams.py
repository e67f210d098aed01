"""The SSE relay: forwards whole events, reads usage, strips what keyplane injected."""

from __future__ import annotations

import orjson

from keyplane.gateway.endpoints import StreamUsage
from keyplane.gateway.streams import StreamRelay
from keyplane.usage.records import Tokens

USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 1}}


def frame(chunk: object) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def stream(with_usage: bool) -> list[bytes]:
    extra = {"usage": None} if with_usage else {}
    frames = [frame({"id": "c", "choices": [{"delta": {"content": w}}], **extra}) for w in "ab"]
    if with_usage:
        frames.append(frame({"id": "c", "choices": [], "usage": USAGE}))
    return [*frames, b"data: [DONE]\n\n"]


def relay_all(relay: StreamRelay, frames: list[bytes], cut: int) -> bytes:
    raw = b"".join(frames)
    pieces = [raw[i : i + cut] for i in range(0, len(raw), cut)]
    return b"".join(relay.feed(piece) for piece in pieces) + relay.close()


def test_injected_usage_is_stripped_and_read_whatever_the_chunking() -> None:
    for cut in (1, 7, 10_000):
        relay = StreamRelay(StreamUsage.FINAL_CHUNK, strip_injected=True)
        assert relay_all(relay, stream(True), cut) == b"".join(stream(False))
        assert relay.tokens == Tokens(5, 2, 1)


def test_usage_the_client_asked_for_is_kept() -> None:
    relay = StreamRelay(StreamUsage.FINAL_CHUNK, strip_injected=False)
    assert relay_all(relay, stream(True), 13) == b"".join(stream(True))
    assert relay.tokens == Tokens(5, 2, 1)


def test_responses_usage_is_read_from_response_completed() -> None:
    done = {
        "type": "response.completed",
        "response": {"usage": {"input_tokens": 4, "output_tokens": 6}},
    }
    events = [
        b'event: response.created\ndata: {"type":"response.created"}\n\n',
        b"event: response.completed\ndata: " + orjson.dumps(done) + b"\n\n",
    ]
    relay = StreamRelay(StreamUsage.RESPONSE_EVENT, strip_injected=False)
    assert relay_all(relay, events, 5) == b"".join(events)
    assert relay.tokens == Tokens(4, 6, 0)
