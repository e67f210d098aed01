"""Prices: integer micro-USD, rounded up once, dated names, unknown models, operator files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyplane.errors import ValidationFailedError
from keyplane.usage.prices import Price, PriceTable


def test_cost_is_integer_micro_usd_rounded_up_once() -> None:
    price = Price(input=2_500_000, cached_input=1_250_000, output=10_000_000)
    # 1000 uncached * 2.5 + 0 + 10 * 10 = 2600 micro-USD exactly
    assert price.cost(input_tokens=1000, cached_tokens=0, output_tokens=10) == 2600
    # 1 token of gpt-4o-mini input: 0.15 micro-USD, charged as 1
    mini = Price(input=150_000, cached_input=75_000, output=600_000)
    assert mini.cost(input_tokens=1, cached_tokens=0, output_tokens=0) == 1
    assert mini.cost(input_tokens=0, cached_tokens=0, output_tokens=0) == 0


def test_cached_tokens_are_billed_at_the_cached_price() -> None:
    price = Price(input=1_000_000, cached_input=100_000, output=0)
    assert price.cost(input_tokens=100, cached_tokens=40, output_tokens=0) == 60 + 4


def test_shipped_table_prices_common_models() -> None:
    table = PriceTable.load()
    assert table.price("gpt-4o") == Price(2_500_000, 1_250_000, 10_000_000)
    embedding = table.price("text-embedding-3-small")
    assert embedding is not None and embedding.output == 0


@pytest.mark.parametrize("dated", ["gpt-4o-2024-08-06", "gpt-3.5-turbo-0125"])
def test_dated_model_falls_back_to_its_base(dated: str) -> None:
    table = PriceTable.load()
    assert table.price(dated) == table.price(dated.rsplit("-", 3 if "20" in dated else 1)[0])


def test_unknown_model_has_no_price() -> None:
    assert PriceTable.load().price("unknown-model-x") is None


def test_operator_file_is_merged_over_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"gpt-4o": {"input": 1, "output": 2}, "mine": {"input": 5}}))
    table = PriceTable.load(path)
    assert table.price("gpt-4o") == Price(1, 1, 2)
    assert table.price("mine") == Price(5, 5, 0)
    assert table.price("gpt-4o-mini") is not None


@pytest.mark.parametrize(
    "content", ["[]", '{"m": {"output": 1}}', '{"m": {"input": 1.5}}', '{"m": {"input": -1}}', "{"]
)
def test_bad_operator_file_is_refused_with_a_message(tmp_path: Path, content: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(ValidationFailedError, match="prices"):
        PriceTable.load(path)


def test_shipped_table_covers_current_models_with_cached_input_and_service_tiers() -> None:
    table = PriceTable.load()
    for model in ("gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5", "gpt-5-mini", "o3", "o4-mini"):
        price = table.listed(model)
        assert price is not None, model
        assert price.cached_input < price.input, model
    gpt5 = table.price("gpt-5")
    assert gpt5 is not None
    assert table.price("gpt-5", "priority") == Price(2_500_000, 250_000, 20_000_000)
    assert table.price("gpt-5", "flex") == Price(625_000, 62_500, 5_000_000)
    assert table.price("gpt-5", "default") is gpt5  # a tier it does not list: standard
    assert table.price("o3-deep-research") is not None
    assert table.price("gpt-4.5-preview") is not None


def test_a_tier_in_an_operator_file_is_read_and_a_tier_of_a_tier_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "prices.json"
    tiered = {"input": 10, "output": 20, "tiers": {"flex": {"input": 5, "output": 10}}}
    path.write_text(json.dumps({"house-model": tiered}))
    assert PriceTable.load(path).price("house-model", "flex") == Price(5, 5, 10)
    nested = {"input": 1, "tiers": {"flex": {"input": 1, "tiers": {"x": {"input": 1}}}}}
    path.write_text(json.dumps({"house-model": nested}))
    with pytest.raises(ValidationFailedError, match="tiers"):
        PriceTable.load(path)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("2.50/10", Price(2_500_000, 2_500_000, 10_000_000)),
        ("2.5/10/1.25", Price(2_500_000, 1_250_000, 10_000_000)),
        (" 0.000001 / 0 ", Price(1, 1, 0)),
    ],
)
def test_default_price_is_usd_per_million_input_output_and_cached(
    setting: str, expected: Price
) -> None:
    table = PriceTable.load(default=setting)
    assert table.price("unknown-model-x") == expected
    assert table.listed("unknown-model-x") is None  # still counted as unpriced
    assert table.price("gpt-4o") == Price(2_500_000, 1_250_000, 10_000_000)  # listed wins


@pytest.mark.parametrize("setting", ["2.50", "$2/$10", "-1/2", "1/2/3/4", "1e3/1", "1.0000001/1"])
def test_a_malformed_default_price_is_refused_with_its_format(setting: str) -> None:
    with pytest.raises(ValidationFailedError, match="INPUT/OUTPUT"):
        PriceTable.load(default=setting)
