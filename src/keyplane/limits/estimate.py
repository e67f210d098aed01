"""What a call may consume, known before it runs: tokens and worst-case cost. Pure code."""

from __future__ import annotations

from typing import Any

from keyplane.usage.prices import PriceTable

# Roughly four characters a token for English text; a reservation, settled to real usage.
CHARS_PER_TOKEN = 4
# Output reserved when a call names no maximum; what it really used is settled afterwards.
DEFAULT_MAX_OUTPUT = 4096
# Request fields that bound a call's output, in the order they are read.
OUTPUT_LIMIT_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def prompt_tokens(body: dict[str, Any]) -> int:
    """An upper-leaning estimate of the input tokens of a request body."""
    chars = 0
    for name in ("messages", "prompt", "input", "instructions", "system"):
        value = body.get(name)
        if value is not None:  # most are absent: no call for them
            chars += _text_size(value)
    return -(-chars // CHARS_PER_TOKEN) + 8


def max_output_tokens(body: dict[str, Any], endpoint: str, default: int) -> int:
    return output_tokens_by(body, endpoint, default, output_limit_field(body))


def output_tokens_by(body: dict[str, Any], endpoint: str, default: int, field: str | None) -> int:
    """The most output the call may bring, by ``field`` (``output_limit_field``'s answer;
    None: the default)."""
    if endpoint == "embeddings":
        return 0
    value = default if field is None else body[field]
    return int(value) * max(_choices(body), 1)


def output_limit_field(body: dict[str, Any]) -> str | None:
    """The field that bounds the output of this call, or None when the default does."""
    for name in OUTPUT_LIMIT_FIELDS:
        value = body.get(name)
        if type(value) is int and value >= 0:  # JSON's integers; not a bool
            return name
    return None


def worst_case_cost(
    prices: PriceTable, model: str, *, input_tokens: int, output_tokens: int
) -> int:
    """The most the call can cost: at its model's dearest service tier, as upstream may serve
    it at ``priority`` when the provider project defaults to it; settled at the tier served.

    An unpriced model costs 0 here: the gateway refuses it before admission when a budget
    applies (``KEYPLANE_DEFAULT_PRICE`` prices it otherwise).
    """
    price = prices.price(model)
    if price is None:
        return 0
    return max(
        tier.cost(input_tokens=input_tokens, cached_tokens=0, output_tokens=output_tokens)
        for tier in (price, *(tiered for _, tiered in price.tiers))
    )


def _choices(body: dict[str, Any]) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 128 else 1


def _text_size(value: Any) -> int:
    """Characters of text in a message list, prompt or input, however nested.

    Strings inside lists and objects are counted in the loop, not by a call each: this runs
    for every limited call, and a message list is mostly strings.
    """
    if value is None:
        return 0
    if type(value) is str:
        return len(value)
    if isinstance(value, list):
        total = 0
        for item in value:
            total += len(item) if type(item) is str else _text_size(item)
        return total
    if isinstance(value, dict):
        total = 16
        for key, item in value.items():
            if key == "image_url":  # an image is priced by upstream, not by its URL's length
                continue
            total += len(item) if type(item) is str else _text_size(item)
        return total
    if isinstance(value, str):
        return len(value)
    if isinstance(value, int | float):
        return CHARS_PER_TOKEN  # a token id in a pre-tokenised prompt
    return 0
