"""The read-only view of providers that routing and handlers use on every request.

The registry rebuilds these objects when a provider changes (API write,
providers.d file, another instance), so the hot path only reads precomputed
values: the adapter's Target with its URL and headers already assembled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.adapters.base import Target
from gateway.ledger.pricing import NO_PRICES, PriceTable


@dataclass(frozen=True, slots=True)
class LiveProvider:
    id: str
    name: str
    template: str
    adapter: str
    """Name of the wire-format adapter: openai, anthropic or gemini."""
    target: Target
    enabled: bool = True
    priority: int = 0
    """Higher is tried first."""
    weight: int = 1
    timeout_s: float = 60.0
    allowed_models: frozenset[str] = frozenset()
    """Allow-list; empty means whatever the upstream lists."""
    static_models: tuple[str, ...] = ()
    """Models known without asking the upstream (template list, provider list)."""
    aliases: Mapping[str, str] = field(default_factory=dict)
    default_model: str | None = None
    health_checks: bool = True
    """False: the operator turned active health probes off for this provider."""
    proxy: str | None = None
    """The provider's own proxy (``""``: none); None: the gateway's proxy settings."""
    prices: PriceTable = NO_PRICES
    """The provider's prices, then its template's (the ledger prices usage with them)."""

    def upstream_model(self, model: str) -> str:
        """The name the upstream knows ``model`` by."""
        return self.aliases.get(model, model)

    def allows(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models


class ProviderDirectory(Protocol):
    """Where routing looks providers up; implemented by the provider registry."""

    def get(self, provider_id: str) -> LiveProvider | None: ...

    def all(self) -> Sequence[LiveProvider]: ...

    def subscribe(self, listener: Callable[[str | None], None]) -> Callable[[], None]:
        """``listener(provider_id)`` after a change (None: everything may have changed)."""
