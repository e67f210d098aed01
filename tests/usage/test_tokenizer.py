"""The offline BPE tokenizer: OpenAI's encodings by model, prompts counted as OpenAI counts."""

from __future__ import annotations

import asyncio

import bpe_openai
import pytest

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
