"""The SSE relay: forwards whole events in any framing, reads usage, strips what keyplane
injected, and keeps the relayed text for counting when a stream reports no usage."""

from __future__ import annotations

import orjson
import pytest

from keyplane.gateway.endpoints import StreamUsage
from keyplane.gateway.streams import (
    TRUNCATED,
    StreamRelay,
    answer_text,
    event_fields,
    parser_for,
    split_events,
)
from keyplane.usage.records import Tokens

USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 1}}
NEWLINES = (b"\n", b"\r\n", b"\r")


def frame(chunk: object, newline: bytes = b"\n") -> bytes:
    return b"data: " + orjson.dumps(chunk) + newline + newline


def stream(with_usage: bool, newline: bytes = b"\n") -> list[bytes]:
    extra = {"usage": None} if with_usage else {}
    frames = [
        frame({"id": "c", "choices": [{"delta": {"content": w}}], **extra}, newline)
        for w in ("Hello", " world")
    ]
    if with_usage:
        frames.append(frame({"id": "c", "choices": [], "usage": USAGE}, newline))
    return [*frames, b"data: [DONE]" + newline + newline]


def relay_all(relay: StreamRelay, frames: list[bytes], cut: int) -> bytes:
    raw = b"".join(frames)
    pieces = [raw[i : i + cut] for i in range(0, len(raw), cut)]
    return b"".join(relay.feed(piece) for piece in pieces) + relay.close()


def chat_relay(strip: bool) -> StreamRelay:
    return StreamRelay(parser_for(StreamUsage.FINAL_CHUNK, strip_injected=strip))


@pytest.mark.parametrize("newline", NEWLINES)
def test_injected_usage_is_stripped_and_read_whatever_the_chunking(newline: bytes) -> None:
    for cut in (1, 7, 10_000):
        relay = chat_relay(strip=True)
        assert relay_all(relay, stream(True, newline), cut) == b"".join(stream(False, newline))
        assert relay.parser.report is not None
        assert relay.parser.report.tokens == Tokens(5, 2, 1)
        assert relay.parser.finished


def test_usage_the_client_asked_for_is_kept() -> None:
    relay = chat_relay(strip=False)
    assert relay_all(relay, stream(True), 13) == b"".join(stream(True))
    assert relay.parser.report is not None
    assert relay.parser.report.tokens == Tokens(5, 2, 1)


@pytest.mark.parametrize("newline", NEWLINES)
def test_each_event_is_forwarded_as_soon_as_its_blank_line_arrives(newline: bytes) -> None:
    relay = chat_relay(strip=False)
    first, second, *_ = stream(False, newline)
    assert relay.feed(first[:-1]) == b""  # the blank line is not complete yet
    assert relay.feed(first[-1:]) == first
    assert relay.feed(second) == second


def test_mixed_line_ends_split_into_events_without_mistaking_crlf_for_a_blank_line() -> None:
    raw = b"event: a\r\ndata: 1\r\n\r\nevent: b\ndata: 2\n\ndata: 3\r\rdata: 4\r\n"
    events, rest = split_events(raw)
    assert events == [b"event: a\r\ndata: 1\r\n\r\n", b"event: b\ndata: 2\n\n", b"data: 3\r\r"]
    assert rest == b"data: 4\r\n"
    assert event_fields(events[0]) == (b"a", b"1")


def test_relayed_text_is_what_the_client_got_and_a_stream_without_done_is_unfinished() -> None:
    relay = chat_relay(strip=True)
    frames = stream(False)[:-1]  # upstream ended before [DONE]
    relay_all(relay, frames, 5)
    assert not relay.parser.finished
    assert relay.parser.report is None
    assert relay.parser.relayed_text() == "Hello world"


def test_tool_call_arguments_and_legacy_completion_text_count_as_relayed_text() -> None:
    relay = chat_relay(strip=False)
    call = {"function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    relay.feed(frame({"choices": [{"delta": {"tool_calls": [call]}}]}))
    relay.feed(frame({"choices": [{"text": " and more"}]}))
    assert relay.parser.relayed_text() == 'get_weather{"city":"Paris"} and more'


def test_an_error_chunk_from_upstream_finishes_the_stream() -> None:
    relay = chat_relay(strip=False)
    relay.feed(frame({"error": {"message": "overloaded", "type": "server_error"}}))
    assert relay.parser.finished


def test_chat_truncation_is_an_error_chunk_the_sdk_raises_on() -> None:
    parser = parser_for(StreamUsage.FINAL_CHUNK, strip_injected=True)
    name, data = event_fields(parser.truncation("cut"))
    assert name == b"" and data is not None
    assert orjson.loads(data)["error"]["code"] == TRUNCATED


def response_event(kind: str, newline: bytes = b"\n", **fields: object) -> bytes:
    data = orjson.dumps({"type": kind, **fields})
    return b"event: " + kind.encode() + newline + b"data: " + data + newline + newline


@pytest.mark.parametrize("newline", NEWLINES)
def test_responses_usage_tier_and_unknown_kinds_are_read_from_response_completed(
    newline: bytes,
) -> None:
    usage = {
        "input_tokens": 4,
        "output_tokens": 6,
        "output_tokens_details": {"reasoning_tokens": 2, "audio_tokens": 3},
    }
    done = {"usage": usage, "service_tier": "flex"}
    events = [
        response_event("response.created", newline),
        response_event("response.output_text.delta", newline, delta="hi"),
        response_event("response.completed", newline, response=done),
    ]
    relay = StreamRelay(parser_for(StreamUsage.RESPONSE_EVENT, strip_injected=False))
    assert relay_all(relay, events, 5) == b"".join(events)
    report = relay.parser.report
    assert report is not None and relay.parser.finished
    assert report.tokens == Tokens(4, 6, 0, 2)
    assert report.service_tier == "flex"
    assert report.extra_tokens == (("output_tokens_details.audio_tokens", 3),)


def test_responses_text_deltas_are_kept_and_a_stream_without_its_final_event_is_unfinished() -> (
    None
):
    relay = StreamRelay(parser_for(StreamUsage.RESPONSE_EVENT, strip_injected=False))
    relay.feed(response_event("response.output_text.delta", delta="Bonjour"))
    relay.feed(response_event("response.function_call_arguments.delta", delta="{}"))
    relay.feed(response_event("response.output_audio.delta", delta="AAAA"))
    assert relay.parser.relayed_text() == "Bonjour{}"
    assert not relay.parser.finished
    name, data = event_fields(relay.parser.truncation("cut"))
    assert name == b"error" and data is not None
    assert orjson.loads(data)["error"]["code"] == TRUNCATED


def test_the_text_of_whole_answers_of_each_shape() -> None:
    chat = {"choices": [{"message": {"role": "assistant", "content": "Hi there"}}]}
    legacy = {"choices": [{"text": "Once upon"}]}
    response = {
        "output": [
            {"type": "message", "content": [{"type": "output_text", "text": "Bonjour"}]},
            {"type": "function_call", "arguments": '{"x":1}'},
        ]
    }
    assert answer_text(chat) == "Hi there"
    assert answer_text(legacy) == "Once upon"
    assert answer_text(response) == 'Bonjour{"x":1}'
    assert answer_text(None) == ""


@pytest.mark.parametrize("newline", NEWLINES)
def test_a_last_event_without_its_blank_line_is_still_read_and_ended_for_the_client(
    newline: bytes,
) -> None:
    relay = chat_relay(strip=True)
    frames = stream(True, newline)
    frames[-1] = b"data: [DONE]"  # upstream closed right after it
    out = relay_all(relay, frames, 9)
    assert relay.parser.finished
    assert out.endswith(b"data: [DONE]" + newline * 2)


def test_a_responses_delta_that_mentions_error_is_still_counted() -> None:
    relay = StreamRelay(parser_for(StreamUsage.RESPONSE_EVENT, strip_injected=False))
    relay.feed(response_event("response.output_text.delta", delta='no "error" here'))
    assert relay.parser.relayed_text() == 'no "error" here'
    assert not relay.parser.finished
