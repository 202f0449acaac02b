"""Prices as data: which entry applies to a model, and exact costs in pico-USD."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from gateway.ledger.pricing import Price, PriceTable, Rate, usd
from gateway.providers.templates import load_templates

TEMPLATE = {
    "gpt-4o*": Price(input=2.5, output=10),
    "gpt-4o-mini*": Price(input=0.15, output=0.6, cached_input=0.075),
    "gpt-4o-mini": Price(input=9, output=9),
}
PROVIDER = {"gpt-4o-mini-2024*": Price(input=1, output=2)}


def test_provider_first_then_exact_names_then_longer_patterns() -> None:
    table = PriceTable(PROVIDER, TEMPLATE)
    assert table.rate("gpt-4o-mini-2024-07-18") == Rate.of(PROVIDER["gpt-4o-mini-2024*"])
    assert table.rate("gpt-4o-mini") == Rate.of(TEMPLATE["gpt-4o-mini"])
    assert table.rate("gpt-4o-mini-2025") == Rate.of(TEMPLATE["gpt-4o-mini*"])
    assert table.rate("gpt-4o-2024-08-06") == Rate.of(TEMPLATE["gpt-4o*"])
    assert table.rate("models/gpt-4o") == Rate.of(TEMPLATE["gpt-4o*"])
    assert table.rate("o1") is None


def test_costs_are_exact_and_cached_tokens_are_part_of_the_prompt() -> None:
    rate = Rate.of(TEMPLATE["gpt-4o-mini*"])
    pico = rate.cost(prompt=1_000_003, completion=77_777, cached=400_000)
    exact = (
        600_003 * Decimal("0.15") + 400_000 * Decimal("0.075") + 77_777 * Decimal("0.6")
    ) / 1_000_000
    assert Decimal(pico) / 10**12 == exact
    assert usd(pico) == float(exact)
    no_cache_price = Rate.of(Price(input=3, output=15))
    assert no_cache_price.cost(100, 0, 40) == no_cache_price.cost(100, 0, 0)


def test_prices_are_validated() -> None:
    with pytest.raises(ValidationError):
        Price(input=-1)
    with pytest.raises(ValidationError):
        Price.model_validate({"input": 1, "outptu": 2})


def test_built_in_templates_price_their_main_models() -> None:
    templates = load_templates()
    for template, model in (
        ("openai", "gpt-4o-mini"),
        ("openai", "text-embedding-3-small"),
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("gemini", "gemini-2.5-flash"),
    ):
        assert PriceTable(templates[template].pricing).rate(model) is not None, model
