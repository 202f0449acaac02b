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


def test_cache_writes_have_their_own_price_and_default_to_input() -> None:
    rate = Rate.of(Price(input=3, output=15, cached_input=0.3, cache_write_input=3.75))
    pico = rate.cost(prompt=10_000, completion=100, cached=4_000, written=2_500)
    exact = 3_500 * Decimal(3) + 4_000 * Decimal("0.3") + 2_500 * Decimal("3.75") + 100 * 15
    assert Decimal(pico) / 10**6 == exact
    plain = Rate.of(Price(input=3, output=15))
    assert plain.cost(100, 0, 0, written=40) == plain.cost(100, 0, 0)
    # Counts that add up past the prompt are held to it: reads first, then writes.
    assert rate.cost(100, 0, 70, written=50) == rate.cost(100, 0, 70, written=30)


def test_a_long_prompt_prices_every_token_of_the_request_at_its_tier() -> None:
    price = Price.model_validate(
        {"input": 1.25, "output": 10, "cached_input": 0.31,
         "long_prompt": {"above": 200_000, "input": 2.5, "output": 15, "cached_input": 0.625}}
    )  # fmt: skip
    rate = Rate.of(price)
    at_line = rate.cost(prompt=200_000, completion=1_000, cached=50_000)
    assert Decimal(at_line) / 10**6 == 150_000 * Decimal("1.25") + 50_000 * Decimal("0.31") + 10_000
    past = rate.cost(prompt=200_001, completion=1_000, cached=50_000)
    assert Decimal(past) / 10**6 == (
        150_001 * Decimal("2.5") + 50_000 * Decimal("0.625") + 1_000 * 15
    )


def test_prices_are_validated() -> None:
    with pytest.raises(ValidationError):
        Price(input=-1)
    with pytest.raises(ValidationError):
        Price.model_validate({"input": 1, "outptu": 2})
    with pytest.raises(ValidationError, match="above"):
        Price.model_validate({"input": 1, "long_prompt": {"input": 2}})
    with pytest.raises(ValidationError, match="above"):
        Price.model_validate({"input": 1, "long_prompt": {"above": 0, "input": 2}})
    tier = {"above": 5, "input": 2}
    with pytest.raises(ValidationError, match="long_prompt"):  # one tier only
        Price.model_validate({"input": 1, "long_prompt": {**tier, "long_prompt": tier}})


def test_built_in_templates_price_their_main_models() -> None:
    templates = load_templates()
    for template, model in (
        ("openai", "gpt-4o-mini"),
        ("openai", "text-embedding-3-small"),
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("gemini", "gemini-2.5-flash"),
    ):
        assert PriceTable(templates[template].pricing).rate(model) is not None, model
    sonnet = PriceTable(templates["anthropic"].pricing).rate("claude-sonnet-4-5-20250929")
    assert sonnet is not None and sonnet.long is not None and sonnet.long_above == 200_000
    assert sonnet.cache_write * 4 == sonnet.input * 5  # 1.25x input
    gemini_pro = PriceTable(templates["gemini"].pricing).rate("gemini-2.5-pro")
    assert gemini_pro is not None and gemini_pro.long is not None
