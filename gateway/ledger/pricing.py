"""Prices per model as data: USD per million input, output, cached-input and cache-write tokens.

Templates and providers carry ``pricing:`` maps from a model name or a glob
(``gpt-4o*``) to a Price. Costs are kept as integers in pico-USD (1e-12 USD),
so sums are exact for any price with up to six decimals per million tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PICO_PER_USD = 10**12
MAX_CACHED_MODELS = 1000
"""Per provider: distinct model names whose price lookup is remembered."""

Dollars = Annotated[float, Field(ge=0, le=100_000)]
ModelPattern = Annotated[str, Field(min_length=1, max_length=200)]


class TokenPrices(BaseModel):
    """USD per million tokens of each kind (as the providers publish them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Dollars
    output: Dollars = 0.0
    cached_input: Dollars | None = None
    """Prompt tokens read from the provider's cache; None: charged as input."""
    cache_write_input: Dollars | None = None
    """Prompt tokens written to the provider's cache (Anthropic: 1.25x input for the
    default 5-minute cache); None: charged as input."""


class LongPromptPrice(TokenPrices):
    """What every token of a request costs once its prompt is longer than ``above`` tokens."""

    above: int = Field(gt=0)
    """Prompt tokens (cached and written ones included), as the provider counts them."""


class Price(TokenPrices):
    """One model's price; ``long_prompt``: its tier for long prompts (Gemini 2.5 Pro and
    Claude Sonnet 4 charge more for every token of a request past 200k prompt tokens)."""

    long_prompt: LongPromptPrice | None = None


Pricing = dict[ModelPattern, Price]


def _pico_per_token(per_million: float) -> int:
    """USD per million tokens -> pico-USD per token (exact up to six decimals)."""
    return int((Decimal(str(per_million)) * 10**6).to_integral_value())


@dataclass(frozen=True, slots=True)
class Rate:
    """A Price in pico-USD per token, ready to multiply."""

    input: int
    output: int
    cached_input: int
    cache_write: int
    long_above: int = 0
    """Above this many prompt tokens ``long`` applies instead (0: no such tier)."""
    long: Rate | None = None

    @classmethod
    def of(cls, price: TokenPrices) -> Rate:
        cached = price.cached_input if price.cached_input is not None else price.input
        write = price.cache_write_input if price.cache_write_input is not None else price.input
        long_prompt = price.long_prompt if isinstance(price, Price) else None
        return cls(
            _pico_per_token(price.input),
            _pico_per_token(price.output),
            _pico_per_token(cached),
            _pico_per_token(write),
            long_prompt.above if long_prompt is not None else 0,
            cls.of(long_prompt) if long_prompt is not None else None,
        )

    def cost(self, prompt: int, completion: int, cached: int, written: int = 0) -> int:
        """pico-USD for these counts; ``cached`` and ``written`` (cache reads and writes) are
        part of ``prompt``."""
        if self.long is not None and prompt > self.long_above:
            return self.long.cost(prompt, completion, cached, written)
        if cached + written > prompt:  # a provider that counts them apart: no more than the prompt
            cached = min(cached, prompt)
            written = min(written, prompt - cached)
        return (
            (prompt - cached - written) * self.input
            + cached * self.cached_input
            + written * self.cache_write
            + completion * self.output
        )


class PriceTable:
    """The prices one provider charges: its own ``pricing:`` first, then its template's.

    Within each, an exact name wins over patterns, and a longer pattern over a
    shorter one. Lookups are remembered per model name.
    """

    __slots__ = ("_cache", "_layers")

    def __init__(self, *layers: Mapping[str, Price]) -> None:
        self._layers: list[tuple[dict[str, Rate], list[tuple[str, Rate]]]] = []
        for layer in layers:
            exact = {name: Rate.of(p) for name, p in layer.items() if not _is_glob(name)}
            globs = sorted(
                ((name, Rate.of(p)) for name, p in layer.items() if _is_glob(name)),
                key=lambda item: -len(item[0]),
            )
            self._layers.append((exact, globs))
        self._cache: dict[str, Rate | None] = {}

    def __eq__(self, other: object) -> bool:
        """Same prices, equal tables: a provider rebuilt from an unchanged record is unchanged."""
        if not isinstance(other, PriceTable):
            return NotImplemented
        return self._layers == other._layers

    def __hash__(self) -> int:
        return hash(
            tuple((tuple(sorted(exact.items())), tuple(globs)) for exact, globs in self._layers)
        )

    def rate(self, model: str) -> Rate | None:
        """The rate for ``model`` (as routed; a leading ``models/`` is ignored), or None."""
        try:
            return self._cache[model]
        except KeyError:
            pass
        found = self._find(model.removeprefix("models/"))
        if len(self._cache) < MAX_CACHED_MODELS:
            self._cache[model] = found
        return found

    def _find(self, model: str) -> Rate | None:
        for exact, globs in self._layers:
            rate = exact.get(model)
            if rate is not None:
                return rate
            for pattern, rate in globs:
                if fnmatchcase(model, pattern):
                    return rate
        return None


NO_PRICES = PriceTable()


def _is_glob(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def usd(pico: int) -> float:
    """pico-USD as a float of dollars (correctly rounded)."""
    return pico / PICO_PER_USD
