"""Anthropic's usage read into keyplane's counts: whole messages, streams cut anywhere, prices."""

from __future__ import annotations

import orjson
import pytest

from keyplane.gateway.anthropic import error_type, tokens_from_anthropic, tokens_from_message
from keyplane.gateway.endpoints import StreamUsage
from keyplane.gateway.streams import MessagesStream, StreamRelay, parser_for
from keyplane.testing.anthropic import message_events
from keyplane.testing.tokens import TokenCounts
from keyplane.testing.wire import event_frames
from keyplane.usage.prices import PriceTable
from keyplane.usage.records import NO_TOKENS, Tokens

USAGE = {
    "input_tokens": 8,
    "cache_creation_input_tokens": 7,
    "cache_read_input_tokens": 5,
    "output_tokens": 3,
}


def test_cache_reads_and_writes_are_parts_of_the_input() -> None:
    assert tokens_from_anthropic(USAGE) == Tokens(input=20, output=3, cached=5, cache_write=7)
    assert tokens_from_message({"usage": USAGE}).input == 20


@pytest.mark.parametrize(
    "usage", [None, "x", {}, {"input_tokens": -4, "output_tokens": True}, {"input_tokens": 1.5}]
)
def test_odd_or_missing_counts_count_zero(usage: object) -> None:
    assert tokens_from_anthropic(usage) == NO_TOKENS


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
def test_a_stream_is_metered_from_message_start_and_the_last_message_delta(size: int) -> None:
    counts = TokenCounts(prompt=30, completion=9, cached=4, cache_write=6)
    events = message_events("msg_1", "claude-haiku-4-5", ["w"] * 9, counts)
    stream = b"".join(event_frames(events))
    parser = parser_for(StreamUsage.MESSAGE_EVENTS, strip_injected=False)
    relay = StreamRelay(parser)
    out = b"".join(relay.feed(stream[i : i + size]) for i in range(0, len(stream), size))
    assert out + relay.close() == stream  # passed through untouched
    assert parser.finished
    assert parser.report is not None
    assert parser.report.tokens == Tokens(input=30, output=9, cached=4, cache_write=6)


def test_a_stream_cut_before_its_message_delta_reports_nothing_and_keeps_its_text() -> None:
    # message_start says only the input and a first output token: the gateway counts the
    # relayed text instead of charging one token for what the client read.
    counts = TokenCounts(prompt=12, completion=5)
    events = message_events("msg_1", "claude-haiku-4-5", ["w"] * 5, counts)[:5]
    parser = MessagesStream()
    StreamRelay(parser).feed(b"".join(event_frames(events)))
    assert parser.report is None
    assert not parser.finished
    assert parser.relayed_text().split()


def test_a_later_delta_with_input_counts_replaces_the_earlier_ones() -> None:
    start = {
        "type": "message_start",
        "message": {"usage": {"input_tokens": 10, "output_tokens": 1}},
    }
    delta = {"type": "message_delta", "usage": {"input_tokens": 12, "output_tokens": 40}}
    parser = MessagesStream()
    StreamRelay(parser).feed(
        b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in (start, delta))
    )
    assert parser.report is not None
    assert parser.report.tokens == Tokens(input=12, output=40)


def test_anthropic_prices_charge_cache_writes_above_and_reads_below_the_input_price() -> None:
    price = PriceTable.load().price("claude-haiku-4-5-20251001")  # dated: the base entry
    assert price is not None
    plain = price.cost(input_tokens=1_000_000, cached_tokens=0, output_tokens=0)
    written = price.cost(
        input_tokens=1_000_000, cached_tokens=0, output_tokens=0, cache_write_tokens=1_000_000
    )
    read = price.cost(input_tokens=1_000_000, cached_tokens=1_000_000, output_tokens=0)
    assert (read, plain, written) == (100_000, 1_000_000, 1_250_000)
    assert PriceTable.load().price("claude-3-7-sonnet-latest") is not None


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (429, "rate_limit_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "api_error"),
    ],
)
def test_refusals_take_anthropics_error_types(status: int, kind: str) -> None:
    assert error_type(status) == kind
