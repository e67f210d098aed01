"""Model prices and the cost of a call, in integer micro-USD.

Prices are integer micro-USD per 1M tokens, per model: ``input``, ``cached_input`` (defaults
to ``input``), ``output`` (defaults to 0; reasoning tokens are output and cost as much) and
``cache_write`` (input written to a prompt cache, as Anthropic bills it; defaults to
``input``), and optionally ``tiers``: the same fields per service tier (``"flex"``,
``"priority"``) that upstream reports serving a call at; a tier not listed costs the standard
price. The shipped table is ``prices.json`` beside this module; an operator's file in the
same format (``KEYPLANE_PRICES_FILE``) is merged over it, model by model. The cost of one
call rounds up once, so it never undercharges::

    cost = ceil((plain_input * input + cached * cached_input + written * cache_write
                 + output * output) / 1_000_000)

where ``plain_input = input_tokens - cached_tokens - cache_write_tokens``. Integers only, no
floats anywhere. A dated model name (``gpt-4o-2024-08-06``, ``gpt-3.5-turbo-0125``,
``claude-sonnet-4-20250514``) or a ``-latest`` alias falls back to its base entry.

A model with no entry is unpriced: the gateway refuses it under a budget, so a budget cannot
be spent around by a model's name, unless the operator sets a default price
(``KEYPLANE_DEFAULT_PRICE``, ``parse_default_price``), which then prices every unlisted model.
Without a budget an unpriced call still goes through, at cost 0, counted as unpriced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from keyplane.errors import ValidationFailedError

PER_TOKENS = 1_000_000
_MICRO_PER_USD = 1_000_000
_DATED = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$")


@dataclass(frozen=True, slots=True)
class Price:
    """What 1M tokens of a model cost, in micro-USD; ``tiers`` are the prices of other service
    tiers (``flex``, ``priority``) when they differ from the standard one."""

    input: int
    cached_input: int
    output: int
    cache_write: int | None = None  # None: the input price
    tiers: tuple[tuple[str, Price], ...] = ()

    def at(self, tier: str) -> Price:
        """The price at service ``tier``; the standard price for a tier it does not list."""
        for name, price in self.tiers:
            if name == tier:
                return price
        return self

    def cost(
        self,
        *,
        input_tokens: int,
        cached_tokens: int,
        output_tokens: int,
        cache_write_tokens: int = 0,
    ) -> int:
        """Cost of one call in micro-USD, rounded up."""
        cached = min(cached_tokens, input_tokens)
        written = min(cache_write_tokens, input_tokens - cached)
        write_price = self.input if self.cache_write is None else self.cache_write
        total = (
            (input_tokens - cached - written) * self.input
            + cached * self.cached_input
            + written * write_price
            + output_tokens * self.output
        )
        return -(-total // PER_TOKENS)


class PriceTable:
    """Prices by model, with dated names falling back to their base model, and unlisted
    models to the ``default`` price when there is one."""

    def __init__(self, prices: Mapping[str, Price], *, default: Price | None = None) -> None:
        self._prices = dict(prices)
        self.default = default
        self._resolved: dict[str, Price | None] = {}

    def __len__(self) -> int:
        return len(self._prices)

    def listed(self, model: str) -> Price | None:
        """The table's own price of ``model``, or ``None`` when neither it nor its base is
        listed."""
        try:
            return self._resolved[model]
        except KeyError:
            pass
        price = self._prices.get(model)
        if price is None:
            price = self._prices.get(_DATED.sub("", model))
        if len(self._resolved) < 10_000:  # bounded: model names come from clients
            self._resolved[model] = price
        return price

    def price(self, model: str, tier: str = "") -> Price | None:
        """What ``model`` costs at service ``tier`` (``""``: standard): its listed price, else
        the default, else ``None``."""
        price = self.listed(model) or self.default
        return price.at(tier) if tier and price is not None else price

    @classmethod
    def load(cls, override: Path | None = None, *, default: str | None = None) -> PriceTable:
        """The shipped prices, with the operator's file merged over them, and the default
        price (``parse_default_price``) if one is set."""
        shipped = resources.files("keyplane.usage").joinpath("prices.json").read_text("utf-8")
        prices = parse_prices(json.loads(shipped), source="prices.json")
        if override is not None:
            prices |= parse_prices(_read(override), source=str(override))
        return cls(prices, default=parse_default_price(default) if default else None)


_USD = re.compile(r"^\d{1,6}(?:\.\d{1,6})?$")


def parse_default_price(text: str) -> Price:
    """``KEYPLANE_DEFAULT_PRICE``: USD per 1M tokens as ``INPUT/OUTPUT[/CACHED_INPUT]``.

    For example ``2.50/10`` ($2.50 per 1M input tokens, $10 per 1M output tokens; cached
    input at the input price) or ``2.50/10/1.25``. Stored as integer micro-USD.
    """
    parts = [part.strip() for part in text.split("/")]
    if len(parts) not in (2, 3) or not all(_USD.match(part) for part in parts):
        raise ValidationFailedError(
            f"KEYPLANE_DEFAULT_PRICE={text!r}: write USD per 1M tokens as INPUT/OUTPUT or "
            "INPUT/OUTPUT/CACHED_INPUT, for example 2.50/10 or 2.50/10/1.25."
        )
    try:
        micro = [int(Decimal(part) * _MICRO_PER_USD) for part in parts]
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValidationFailedError(f"KEYPLANE_DEFAULT_PRICE={text!r} is not a price.") from None
    cached = micro[2] if len(micro) == 3 else micro[0]
    return Price(input=micro[0], cached_input=cached, output=micro[1])


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise ValidationFailedError(f"Cannot read the prices file {path}: {error}") from None


def parse_prices(data: Any, *, source: str) -> dict[str, Price]:
    """Prices from a decoded JSON object; keys starting with ``_`` are comments."""
    if not isinstance(data, dict):
        raise ValidationFailedError(f"{source}: the prices file must hold a JSON object.")
    return {
        model: _price(entry, where=f"{source}: {model}")
        for model, entry in data.items()
        if not model.startswith("_")
    }


def _price(entry: Any, *, where: str, tiered: bool = True) -> Price:
    if not isinstance(entry, dict) or "input" not in entry:
        raise ValidationFailedError(f"{where}: needs an object with at least 'input'.")
    values = {name: entry.get(name) for name in ("input", "cached_input", "output")}
    values["cached_input"] = entry.get("cached_input", entry["input"])
    values["output"] = entry.get("output", 0)
    if "cache_write" in entry:
        values["cache_write"] = entry["cache_write"]
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            message = f"{where}: '{name}' must be a non-negative integer (micro-USD per 1M tokens)."
            raise ValidationFailedError(message)
    tiers = entry.get("tiers", {})
    if not isinstance(tiers, dict) or (tiers and not tiered):
        raise ValidationFailedError(f"{where}: 'tiers' must map tier names to prices.")
    priced = tuple(
        (str(tier), _price(price, where=f"{where} tier {tier}", tiered=False))
        for tier, price in tiers.items()
    )
    return Price(**values, tiers=priced)  # type: ignore[arg-type]
