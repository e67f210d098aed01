"""Metering a stream: what reading usage costs, and what counting tokens costs when it must.

    .venv/bin/python bench/stream_metering.py [--words 300] [--calls 300]

In one process, the gateway's own relay (``StreamRelay``) is fed an OpenAI-shaped stream of
``--words`` content chunks, cut into network reads of 1-3 events, ``--calls`` times, for:

- **framing only**: the events split and forwarded, nothing parsed (the floor);
- **usage reported**: chat with keyplane's injected ``include_usage`` (stripped again, usage
  read from the final chunk), and a Responses stream (usage read from ``response.completed``)
  — what every call pays; the tokenizer is never loaded on this path, which the run checks;
- **counted**: the same streams cut before their usage (a client that hung up), then metered
  as the gateway does: the relayed text decoded and counted with bpe-openai, plus the prompt.

It prints CPU microseconds per call (``time.process_time``) and each figure as a ratio to
framing only, plus the one-time cost of loading ``o200k_base``. Not a test: it gates nothing.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable

from keyplane.gateway.endpoints import StreamUsage
from keyplane.gateway.streams import StreamRelay, parser_for, split_events
from keyplane.testing.payloads import Head, chat_chunks, response_events
from keyplane.testing.tokens import TokenCounts
from keyplane.testing.wire import data_frames, event_frames
from keyplane.usage.tokenizer import Tokenizer

MODEL = "gpt-4o"
WORDS = ("The", " keeper", " climbed", " the", " stairs", ",", " 1889", " naïve", " café", ".")
BODY = {
    "model": MODEL,
    "messages": [
        {"role": "system", "content": "You are a storyteller."},
        {"role": "user", "content": "Tell me a long story about a lighthouse keeper. " * 8},
    ],
    "stream": True,
}


def chat_stream(words: int) -> list[bytes]:
    text = [WORDS[i % len(WORDS)].strip() for i in range(words)]
    head = Head("chatcmpl-bench", 1_700_000_000, MODEL)
    counts = TokenCounts(prompt=120, completion=words)
    return data_frames(chat_chunks(head, text, counts, True))


def responses_stream(words: int) -> list[bytes]:
    text = [WORDS[i % len(WORDS)].strip() for i in range(words)]
    events = response_events(
        ident="resp_bench",
        message_id="msg_bench",
        created=1_700_000_000,
        body={"model": MODEL, "input": "Tell me a story"},
        words=text,
        counts=TokenCounts(prompt=120, completion=words),
    )
    return event_frames(events)


def reads(frames: list[bytes]) -> list[bytes]:
    """The frames as network reads of 1, 2 or 3 events."""
    out, i = [], 0
    while i < len(frames):
        step = 1 + i % 3
        out.append(b"".join(frames[i : i + step]))
        i += step
    return out


def framing_only(chunks: list[bytes]) -> None:
    pending = b""
    for chunk in chunks:
        _, pending = split_events(pending + chunk)


def relay(usage: StreamUsage, strip: bool) -> Callable[[list[bytes]], StreamRelay]:
    def run(chunks: list[bytes]) -> StreamRelay:
        relayed = StreamRelay(parser_for(usage, strip_injected=strip))
        for chunk in chunks:
            relayed.feed(chunk)
        relayed.close()
        return relayed

    return run


def counted(usage: StreamUsage, strip: bool, tokenizer: Tokenizer) -> Callable[[list[bytes]], int]:
    run = relay(usage, strip)
    endpoint = "chat.completions" if usage is StreamUsage.FINAL_CHUNK else "responses"

    def meter(chunks: list[bytes]) -> int:
        relayed = run(chunks)
        assert relayed.parser.report is None, "the cut stream must report no usage"
        prompt = tokenizer.count_prompt(MODEL, endpoint, BODY)
        return prompt + tokenizer.count(MODEL, relayed.parser.relayed_text())

    return meter


def cpu_us(work: Callable[[list[bytes]], object], chunks: list[bytes], calls: int) -> float:
    work(chunks)  # warm
    started = time.process_time()
    for _ in range(calls):
        work(chunks)
    return (time.process_time() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=300)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()

    tokenizer = Tokenizer()
    chat = reads(chat_stream(args.words))
    # Cut before the final usage chunk and [DONE]: what a client that hangs up leaves.
    chat_cut = reads(chat_stream(args.words)[:-2])
    responses = reads(responses_stream(args.words))
    responses_cut = reads(responses_stream(args.words)[:-1])

    floor = cpu_us(framing_only, chat, args.calls)
    rows = [
        ("framing only (chat)", floor),
        ("usage reported: chat", cpu_us(relay(StreamUsage.FINAL_CHUNK, True), chat, args.calls)),
        (
            "usage reported: responses",
            cpu_us(relay(StreamUsage.RESPONSE_EVENT, False), responses, args.calls),
        ),
    ]
    assert not tokenizer._backends, "the usage-reported path must not load the tokenizer"
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    tokens = tokenizer.count(MODEL, "load")
    load_ms = (time.perf_counter() - started) * 1000
    rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert tokens == 1
    rows += [
        (
            "counted: chat cut before usage",
            cpu_us(counted(StreamUsage.FINAL_CHUNK, True, tokenizer), chat_cut, args.calls),
        ),
        (
            "counted: responses cut before usage",
            cpu_us(
                counted(StreamUsage.RESPONSE_EVENT, False, tokenizer), responses_cut, args.calls
            ),
        ),
    ]
    text = relay(StreamUsage.FINAL_CHUNK, True)(chat_cut).parser.relayed_text()
    alone = cpu_us(lambda _: tokenizer.count(MODEL, text), [], args.calls)
    rows.append(("tokenizer alone: the relayed text", alone))
    print(f"{args.words} content chunks per stream, {args.calls} calls each, CPU per call")
    for name, micros in rows:
        print(f"  {name:<40} {micros:9.1f} us   x{micros / floor:5.2f} of framing only")
    print(f"  o200k_base loaded once on first need: {load_ms:.0f} ms, +{rss_mb:.0f} MB peak RSS")


if __name__ == "__main__":
    main()
