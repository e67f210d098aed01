"""Count tokens the way OpenAI's models do, offline: the BPE encodings ``o200k_base`` and
``cl100k_base`` from the ``bpe-openai`` package, which ships them.

Used only when upstream reports no usage (a stream cut short): the prompt of the request and
the text that was relayed are counted, and the record is marked estimated. ``tiktoken`` counts
the same tokens but downloads its encodings on first use, which fails offline; docs/metering.md
has the measurement that chose this package. An encoding is loaded the first time it is needed
(about 45 ms and 60 MB for ``o200k_base``), never at start, so a gateway whose upstream always
reports usage never pays for it. Loading takes a while (45 ms idle, seconds on a loaded
machine: it maps a 74 MB library), so the gateway ``load``s in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any, Protocol

logger = logging.getLogger(__name__)

O200K = "o200k_base"
CL100K = "cl100k_base"
# OpenAI's formula for chat prompts: each message costs 3 tokens beyond its text, a name 1,
# and every answer is primed with 3 more (openai-cookbook, "How to count tokens").
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
# Models before gpt-4o use cl100k_base; gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and the o-series
# (and any model keyplane does not know) use o200k_base.
_CL100K_PREFIXES = ("gpt-4-", "gpt-3.5", "gpt-35", "text-embedding-", "davinci", "babbage")
# A longer text is counted in pieces of about this many characters. The tokenizer holds the
# GIL while it counts (1 MB of text took 20 ms), so a thread counting a large text in one
# call stalls the event loop; between pieces the loop gets its turn.
PIECE_CHARS = 16 * 1024
# Request fields whose text reaches the model, by endpoint; "tools" is sent as JSON.
_PROMPT_FIELDS = ("messages", "prompt", "input", "instructions", "tools", "functions")


class _Backend(Protocol):
    def count(self, text: str) -> int: ...


def encoding_for(model: str) -> str:
    """The encoding of ``model``'s tokenizer."""
    if model == "gpt-4" or model.startswith(_CL100K_PREFIXES):
        return CL100K
    return O200K


def _load(encoding: str) -> _Backend:
    # The Rust tokenizer itself: its count() does not build the token list, 1.6x faster than
    # the package's tiktoken-like wrapper (docs/metering.md).
    from bpe_openai import _bindings

    logger.info("loading the %s tokenizer to count a call's tokens", encoding)
    backend: _Backend = _bindings.tokenizer_for_encoding(encoding)
    return backend


class Tokenizer:
    """Counts text in the encoding of a model; one per process, encodings loaded lazily."""

    def __init__(self) -> None:
        self._backends: dict[str, _Backend] = {}
        self._loading: dict[str, asyncio.Future[_Backend]] = {}

    def loaded(self, model: str) -> bool:
        """Whether ``model``'s encoding is in memory, so counting does not wait for a load."""
        return encoding_for(model) in self._backends

    async def load(self, model: str) -> None:
        """Load ``model``'s encoding in a thread; concurrent callers share one load."""
        encoding = encoding_for(model)
        if encoding in self._backends:
            return
        loading = self._loading.get(encoding)
        if loading is None:
            loading = self._loading[encoding] = asyncio.ensure_future(
                asyncio.to_thread(_load, encoding)
            )
        try:
            backend = await asyncio.shield(loading)
        finally:
            if loading.done():
                self._loading.pop(encoding, None)
        self._backends.setdefault(encoding, backend)

    def count(self, model: str, text: str) -> int:
        """The number of tokens of ``text`` for ``model`` (loading its encoding if need be)."""
        if not text:
            return 0
        encoding = encoding_for(model)
        backend = self._backends.get(encoding)
        if backend is None:
            backend = self._backends[encoding] = _load(encoding)
        try:
            return sum(backend.count(piece) for piece in _pieces(text, PIECE_CHARS))
        except UnicodeEncodeError:  # a lone surrogate: counted as the replacement character
            return self.count(model, text.encode("utf-8", "replace").decode("utf-8"))

    def count_prompt(self, model: str, endpoint: str, body: dict[str, Any]) -> int:
        """The input tokens of a request body, as OpenAI would count them (an estimate).

        Every string the model reads is counted in one pass (the message texts, names, tool
        definitions), plus OpenAI's per-message overhead for chat. Images and audio are not
        counted: upstream's usage is the only source for those.
        """
        text = "\n".join(_strings([body.get(name) for name in _PROMPT_FIELDS]))
        tokens = self.count(model, text)
        messages = body.get("messages")
        if endpoint == "chat.completions" and isinstance(messages, list):
            names = sum(1 for m in messages if isinstance(m, dict) and "name" in m)
            tokens += TOKENS_PER_MESSAGE * len(messages) + TOKENS_PER_NAME * names
            tokens += REPLY_PRIMING
        elif endpoint == "responses":
            items = body.get("input")
            tokens += TOKENS_PER_MESSAGE * (len(items) if isinstance(items, list) else 1)
        return tokens


def _pieces(text: str, size: int) -> Iterator[str]:
    """``text`` in pieces of at least ``size`` characters, each cut where a pre-token ends,
    so that their counts add up to the whole text's.

    Both encodings split text into pre-tokens before BPE, and in their patterns a space is
    only ever the first character of a pre-token or part of a run of whitespace, and a
    newline is only ever followed within one by more whitespace (or, in ``o200k_base``, by
    ``/``). So a pre-token always ends before a space that follows a character other than
    whitespace, and after a newline followed by neither. A stretch with no such place is not
    cut; each character is looked at once. ``tests/usage/test_tokenizer.py`` checks the
    totals, and an ad hoc fuzz of 20,000 random texts of both encodings found them equal.
    """
    start, end = 0, len(text)
    while end - start > size:
        cut, at = None, start + size
        while cut is None and at < end:
            cut = _cut(text, at, min(at + size, end))
            at += size
        if cut is None:
            break
        yield text[start:cut]
        start = cut
    yield text[start:]


def _cut(text: str, at: int, before: int) -> int | None:
    """The first place in ``[at, before)`` where a pre-token surely ends, if any."""
    space = text.find(" ", at, before)
    while space > 0 and text[space - 1].isspace():
        space = text.find(" ", space + 1, before)
    newline = text.find("\n", at - 1, before - 1)
    while newline >= 0 and (text[newline + 1].isspace() or text[newline + 1] == "/"):
        newline = text.find("\n", newline + 1, before - 1)
    cuts = [place for place in (space, newline + 1) if place >= at]
    return min(cuts) if cuts else None


_SKIPPED_KEYS = frozenset({"image_url", "input_audio", "file_data", "image", "audio"})


def _strings(value: Any) -> Iterator[str]:
    """Every string inside ``value``, depth first, without recursion (bodies nest deeply)."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(v for k, v in reversed(item.items()) if k not in _SKIPPED_KEYS)
        elif isinstance(item, list):
            stack.extend(reversed(item))
