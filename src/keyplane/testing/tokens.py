"""Deterministic token counts of the stand-in upstream, so tests can predict metering exactly.

A "token" here is a whitespace-separated word; nothing is tokenised for real.

Prompt tokens, by endpoint:

- ``chat``: for each message, ``MESSAGE_OVERHEAD`` plus the words of its ``content``
  (a string, or a list of parts whose ``text`` is counted).
- ``completions``: the words of ``prompt``; a token array counts one per integer.
- ``embeddings``: the words of ``input``, counted like ``prompt``; no overhead.
- ``responses``: ``MESSAGE_OVERHEAD`` plus the words of ``instructions`` when given, then
  ``input`` — a string counts as one message, a list counts each item as a message.

Completion tokens: ``max_completion_tokens``, ``max_tokens`` or ``max_output_tokens`` (whichever
the request carries) or else ``DEFAULT_COMPLETION_TOKENS``; embeddings have none. The answer's
text is exactly that many words, so ``count_words(answer) == completion tokens``.
Cached and reasoning tokens are 0 unless a test forces counts (``parse_usage_override``).
``messages`` (Anthropic's stand-in) counts like ``chat``, plus the words of ``system``; its
``max_tokens`` is the completion, and ``cache_write`` (tokens written to a prompt cache) can
be forced too. ``prompt`` always counts all input, cache reads and writes included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

Endpoint = Literal["chat", "completions", "embeddings", "responses", "messages"]

MESSAGE_OVERHEAD = 3
DEFAULT_COMPLETION_TOKENS = 16
MAX_COMPLETION_TOKENS = 65_536
_LIMIT_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
_OVERRIDABLE = ("prompt", "completion", "cached", "reasoning", "audio", "cache_write")
_FILLER = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """Token counts of one call, as the upstream reports them in ``usage``."""

    prompt: int
    completion: int
    cached: int = 0
    reasoning: int = 0  # part of completion
    audio: int = 0  # completion audio tokens, reported in completion_tokens_details
    cache_write: int = 0  # Anthropic: input written to the prompt cache (part of prompt)

    @property
    def total(self) -> int:
        return self.prompt + self.completion


def count_words(text: str) -> int:
    """Count whitespace-separated words: the stand-in's notion of a token."""
    return len(text.split())


def text_tokens(value: object) -> int:
    """Count the tokens of a prompt, an input or a message's content, whatever its shape.

    A string counts its words, an integer is one token (token arrays), a list sums its
    items, a mapping (a content part) counts its ``text``.
    """
    if isinstance(value, str):
        return count_words(value)
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return 1
    if isinstance(value, list):
        return sum(text_tokens(item) for item in value)
    if isinstance(value, Mapping):
        return text_tokens(value.get("text", ""))
    return 0


def _message_tokens(message: object) -> int:
    content = message.get("content") if isinstance(message, Mapping) else None
    return MESSAGE_OVERHEAD + text_tokens(content)


def count_prompt_tokens(endpoint: Endpoint, body: Mapping[str, Any]) -> int:
    """Return the prompt tokens the stand-in reports for a request ``body`` to ``endpoint``."""
    if endpoint in ("chat", "messages"):
        messages = body.get("messages")
        tokens = sum(_message_tokens(m) for m in messages) if isinstance(messages, list) else 0
        return tokens + (text_tokens(body.get("system")) if endpoint == "messages" else 0)
    if endpoint == "completions":
        return text_tokens(body.get("prompt"))
    if endpoint == "embeddings":
        return text_tokens(body.get("input"))
    instructions = body.get("instructions")
    tokens = MESSAGE_OVERHEAD + text_tokens(instructions) if isinstance(instructions, str) else 0
    items = body.get("input")
    if isinstance(items, list):
        return tokens + sum(_message_tokens(item) for item in items)
    return tokens + MESSAGE_OVERHEAD + text_tokens(items)


def count_completion_tokens(endpoint: Endpoint, body: Mapping[str, Any]) -> int:
    """Return the completion tokens the stand-in generates for a request ``body``.

    Raises ``ValueError`` when the limit is negative or above ``MAX_COMPLETION_TOKENS``.
    """
    if endpoint == "embeddings":
        return 0
    for field in _LIMIT_FIELDS:
        limit = body.get(field)
        if isinstance(limit, int) and not isinstance(limit, bool):
            if not 0 <= limit <= MAX_COMPLETION_TOKENS:
                raise ValueError(f"{field} must be between 0 and {MAX_COMPLETION_TOKENS}")
            return limit
    return DEFAULT_COMPLETION_TOKENS


def expected_usage(endpoint: Endpoint, body: Mapping[str, Any]) -> TokenCounts:
    """Return the token counts of a request that forces nothing."""
    return TokenCounts(
        prompt=count_prompt_tokens(endpoint, body),
        completion=count_completion_tokens(endpoint, body),
    )


def parse_usage_override(spec: str) -> dict[str, int]:
    """Parse a test's forced counts, e.g. ``"prompt=7,completion=11,cached=3"``.

    Any of the names (also ``cache_write``) may be left out. Raises ``ValueError`` on an
    unknown name or a value that is not a non-negative integer.
    """
    forced: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, raw = (text.strip() for text in item.partition("="))
        if name not in _OVERRIDABLE or not raw.isdigit():
            raise ValueError(
                f"bad usage override {item!r}: use prompt=N,completion=N,cached=N,"
                "reasoning=N,audio=N"
            )
        forced[name] = int(raw)
    return forced


def override_counts(counts: TokenCounts, forced: Mapping[str, int]) -> TokenCounts:
    """Return ``counts`` with the forced values; ``ValueError`` if cached exceeds prompt."""
    result = replace(counts, **forced)
    if result.cached + result.cache_write > result.prompt:
        raise ValueError("bad usage override: cached tokens cannot exceed prompt tokens")
    return result


@lru_cache(maxsize=64)
def filler_words(count: int) -> tuple[str, ...]:
    """Return the ``count`` words the stand-in answers with."""
    return tuple(_FILLER[i % len(_FILLER)] for i in range(count))
