"""The offline BPE tokenizer: OpenAI's encodings by model, prompts counted as OpenAI counts."""

from __future__ import annotations

import asyncio
import random

import bpe_openai
import pytest

from keyplane.usage import tokenizer as tokenizer_module
from keyplane.usage.tokenizer import (
    CL100K,
    O200K,
    REPLY_PRIMING,
    TOKENS_PER_MESSAGE,
    Tokenizer,
    encoding_for,
)

TEXT = "Hello, naïve café! 東京 🙂 def f(x): return x**2  # 1234567"


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", O200K),
        ("gpt-4o-mini-2024-07-18", O200K),
        ("gpt-4.1", O200K),
        ("gpt-5", O200K),
        ("o3-mini", O200K),
        ("some-new-model", O200K),
        ("gpt-4", CL100K),
        ("gpt-4-turbo", CL100K),
        ("gpt-3.5-turbo-0125", CL100K),
        ("text-embedding-3-small", CL100K),
    ],
)
def test_each_model_is_counted_in_its_encoding(model: str, encoding: str) -> None:
    assert encoding_for(model) == encoding


@pytest.mark.parametrize(("model", "encoding"), [("gpt-4o", O200K), ("gpt-4", CL100K)])
def test_counts_equal_the_encodings_own(model: str, encoding: str) -> None:
    expected = len(bpe_openai.get_encoding(encoding).encode_ordinary(TEXT))
    assert Tokenizer().count(model, TEXT) == expected
    assert Tokenizer().count(model, "") == 0


# Texts whose pre-tokens meet at every kind of edge: contractions, runs of spaces and of
# newlines, tabs, digits, punctuation before letters, scripts without spaces, emoji.
_FRAGMENTS = (
    "Don't rotate keys by hand; I'm sure they'll leak. ",
    "def f(x):\n\treturn x**2  # 1234567\n\n",
    "    indented   spaced\t\ttabs  \n  \n\n",
    "東京の天気は晴れです。明日も晴れ。\n",
    "Привет, мир! ",
    "مرحبا بالعالم ",
    "🙂🙂 ok 👍🏽\r\n",
    "<|endoftext|> ",
    "1,234,567.89 and 12345678901234 ",
    "...!!!??? --- /// \\ ",
    "naïve café, résumé. ",
    "ALLCAPS MixedCase camelCaseWord ",
    "end;\n/usr/bin\n/ok.\n",  # o200k_base's punctuation takes a "/" after its newlines
)


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
@pytest.mark.parametrize("piece", [1, 7, 40, 333])
def test_a_long_text_is_counted_in_pieces_to_the_same_total(
    model: str, piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long text is counted in pieces, so that a thread counting it lets the event loop
    run between them (the tokenizer holds the GIL while it counts: 1 MB took 20 ms). The
    pieces are cut only where a pre-token ends, so the total is the whole text's count."""
    generator = random.Random(piece)
    texts = ["".join(generator.choice(_FRAGMENTS) for _ in range(120)) for _ in range(5)]
    texts += ["x" * 500, " " * 500, "a " * 300, "\n" * 300 + "b", "東京" * 300]
    whole = [Tokenizer().count(model, text) for text in texts]
    monkeypatch.setattr(tokenizer_module, "PIECE_CHARS", piece)
    tokenizer = Tokenizer()
    tokenizer.count(model, "load")
    backend = tokenizer._backends[encoding_for(model)]
    pieces: list[list[int]] = []

    class Watched:
        def count(self, text: str) -> int:
            pieces[-1].append(len(text))
            return backend.count(text)

    tokenizer._backends[encoding_for(model)] = Watched()
    counts = []
    for text in texts:
        pieces.append([])
        counts.append(tokenizer.count(model, text))
    assert counts == whole
    assert all(len(cut) > 1 for cut in pieces[:5])  # the mixed texts were cut
    assert pieces[5] == [500]  # no place to cut: one piece


def test_special_token_text_is_counted_as_ordinary_text() -> None:
    # A client cannot make its text cheaper by writing special tokens into it.
    assert Tokenizer().count("gpt-4o", "<|endoftext|>") > 1


def test_a_lone_surrogate_is_counted_not_raised() -> None:
    assert Tokenizer().count("gpt-4o", "a\ud800b") >= 2


def test_a_chat_prompt_counts_its_texts_and_openais_per_message_overhead() -> None:
    tokenizer = Tokenizer()
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there", "name": "ann"},
    ]
    body = {"model": "gpt-4o", "messages": messages}
    texts = tokenizer.count("gpt-4o", "\n".join(["system", "Be brief.", "user", "Hi there", "ann"]))
    expected = texts + 2 * TOKENS_PER_MESSAGE + 1 + REPLY_PRIMING
    assert tokenizer.count_prompt("gpt-4o", "chat.completions", body) == expected


def test_images_are_not_counted_as_text() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 10_000}}
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, image]}]}
    assert Tokenizer().count_prompt("gpt-4o", "chat.completions", body) < 30


def test_a_deeply_nested_body_is_counted_without_recursion() -> None:
    nested: object = "deep"
    for _ in range(100_000):
        nested = [nested]
    body = {"input": nested}
    assert Tokenizer().count_prompt("gpt-4o", "responses", body) == 1 + TOKENS_PER_MESSAGE


async def test_loading_happens_once_off_the_event_loop_for_concurrent_callers() -> None:
    tokenizer = Tokenizer()
    assert not tokenizer.loaded("gpt-4o")
    await asyncio.gather(*(tokenizer.load("gpt-4o") for _ in range(5)))
    assert tokenizer.loaded("gpt-4o") and tokenizer.loaded("o3")  # one encoding
    assert not tokenizer.loaded("gpt-4")  # cl100k_base is loaded only when needed
    assert tokenizer.count("gpt-4o", "hello world") == 2
