"""Which providers may serve a model, in the order to try them.

The order: a forced provider (X-Gateway-Provider); ``provider_id/model`` when
the prefix is a known provider; a global alias; the providers that list the
model, by priority and then smooth weighted round-robin among equals, skipping
unavailable ones (circuit open or unhealthy); the default provider; otherwise
503 when the model's providers are all unavailable, or 404 model_not_found.
The model -> providers index is rebuilt lazily after a directory change, so a
request does a dict lookup, not a scan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from gateway.errors import NotFound, ServiceUnavailable
from gateway.providers.live import LiveProvider, ProviderDirectory
from gateway.settings import RoutingSettings


@dataclass(slots=True)  # not frozen: made per request; a frozen __init__ costs 2x
class Candidate:
    """One provider to try, and the model name as that provider knows it."""

    provider: LiveProvider
    upstream_model: str
    model: str = ""
    """The name asked for on this provider, before its aliases ("" when the same)."""


class ModelCatalog(Protocol):
    """Models discovered from the upstreams (the catalog fills this in)."""

    def providers_for(self, model: str) -> Sequence[str]:
        """Ids of the providers whose discovered models contain ``model``."""

    def models_of(self, provider_id: str) -> Iterable[str]:
        """The discovered models of one provider."""


def always_available(provider_id: str) -> bool:
    return True


def known_models(provider: LiveProvider) -> list[str]:
    """The models a provider is known to serve without asking it, allow-list applied."""
    names = dict.fromkeys([*provider.static_models, *provider.aliases, *provider.allowed_models])
    return [name for name in names if provider.allows(name)]


class _Group:
    """Providers of one priority for one model, with smooth weighted round-robin state."""

    __slots__ = ("current", "providers")

    def __init__(self, providers: list[LiveProvider]) -> None:
        self.providers = providers
        self.current = [0] * len(providers)

    def order(self, available: Callable[[str], bool]) -> tuple[list[int], list[int]]:
        """Indexes of the available providers (the pick first) and of the unavailable ones."""
        up = [i for i, p in enumerate(self.providers) if available(p.id)]
        down = [i for i, p in enumerate(self.providers) if i not in up]
        if len(up) > 1:
            total = 0
            for i in up:
                weight = self.providers[i].weight
                self.current[i] += weight
                total += weight
            best = max(up, key=lambda i: self.current[i])
            self.current[best] -= total
            up.remove(best)
            up.sort(key=lambda i: -self.current[i])
            up.insert(0, best)
        return up, down


class Router:
    """Turns a model name into the ordered candidates to try."""

    def __init__(
        self,
        directory: ProviderDirectory,
        settings: RoutingSettings,
        *,
        catalog: ModelCatalog | None = None,
        available: Callable[[str], bool] = always_available,
    ) -> None:
        self.directory = directory
        self.settings = settings
        self.catalog = catalog
        self.available = available
        self._index: dict[str, list[_Group]] | None = None
        directory.subscribe(self._invalidate)

    def _invalidate(self, _provider_id: str | None) -> None:
        self._index = None

    def _build_index(self) -> dict[str, list[_Group]]:
        by_model: dict[str, dict[int, list[LiveProvider]]] = {}
        for provider in self.directory.all():
            if not provider.enabled:
                continue
            for model in known_models(provider):
                by_model.setdefault(model, {}).setdefault(provider.priority, []).append(provider)
        return {
            model: [_Group(tiers[priority]) for priority in sorted(tiers, reverse=True)]
            for model, tiers in by_model.items()
        }

    def candidates(self, model: str, forced: str | None = None) -> list[Candidate]:
        """The providers to try for ``model``, best first; NotFound when there is none."""
        if forced:
            return [self._forced(forced, model)]
        prefix, slash, rest = model.partition("/")
        if slash and rest:
            provider = self.directory.get(prefix)
            if provider is not None:
                return [self._usable(provider, rest)]
        alias = self.settings.aliases.get(model)
        if alias is not None:
            prefix, slash, rest = alias.partition("/")
            provider = self.directory.get(prefix) if slash and rest else None
            if provider is not None:
                return [self._usable(provider, rest)]
            model = alias
        found, unavailable = self._listed(model)
        if found:
            return found
        default = self.settings.default_provider
        if default is not None:
            provider = self.directory.get(default)
            if provider is not None and provider.enabled and self.available(provider.id):
                return [Candidate(provider, provider.upstream_model(model), model)]
        if unavailable:
            raise ServiceUnavailable(
                f"Every provider that serves '{model}' is unavailable right now "
                f"({', '.join(unavailable)}: circuit open or unhealthy); retry shortly.",
                code="providers_unavailable",
                headers={"Retry-After": "5"},
            )
        raise NotFound(
            f"The model '{model}' does not exist or no enabled provider serves it.",
            param="model",
            code="model_not_found",
        )

    def _forced(self, provider_id: str, model: str) -> Candidate:
        provider = self.directory.get(provider_id)
        if provider is None:
            raise NotFound(
                f"X-Gateway-Provider names an unknown provider '{provider_id}'.",
                code="provider_not_found",
            )
        if model.startswith(provider_id + "/"):
            model = model[len(provider_id) + 1 :]
        return self._usable(provider, model)

    def _usable(self, provider: LiveProvider, model: str) -> Candidate:
        if not provider.enabled:
            raise NotFound(f"The provider '{provider.id}' is disabled.", code="provider_disabled")
        if not provider.allows(model):
            raise NotFound(
                f"The model '{model}' is not allowed on provider '{provider.id}'.",
                param="model",
                code="model_not_found",
            )
        return Candidate(provider, provider.upstream_model(model), model)

    def _listed(self, model: str) -> tuple[list[Candidate], list[str]]:
        """The available providers that list ``model``, in order; and the unavailable ids."""
        index = self._index
        if index is None:
            index = self._index = self._build_index()
        groups = index.get(model)
        if self.catalog is not None:
            groups = self._with_catalog(model, groups)
        if not groups:
            return [], []
        up: list[LiveProvider] = []
        down: list[str] = []
        for group in groups:
            group_up, group_down = group.order(self.available)
            up.extend(group.providers[i] for i in group_up)
            down.extend(group.providers[i].id for i in group_down)
        return [Candidate(p, p.upstream_model(model), model) for p in up], down

    def _with_catalog(self, model: str, groups: list[_Group] | None) -> list[_Group] | None:
        assert self.catalog is not None
        discovered = self.catalog.providers_for(model)
        if not discovered:
            return groups
        known = {p.id for group in groups or () for p in group.providers}
        extra = [
            provider
            for provider_id in discovered
            if provider_id not in known
            and (provider := self.directory.get(provider_id)) is not None
            and provider.enabled
            and provider.allows(model)
        ]
        if not extra:
            return groups
        # Discovered-only providers join after the configured ones (no shared round-robin state).
        return [*(groups or ()), *(_Group([p]) for p in sorted(extra, key=lambda p: -p.priority))]

    def models(self) -> list[tuple[str, str]]:
        """(provider id, model) for every model of every enabled provider."""
        listed: list[tuple[str, str]] = []
        for provider in self.directory.all():
            if not provider.enabled:
                continue
            names = known_models(provider)
            if self.catalog is not None:
                seen = set(names)
                names.extend(
                    m
                    for m in self.catalog.models_of(provider.id)
                    if m not in seen and provider.allows(m)
                )
            listed.extend((provider.id, name) for name in names)
        return listed


ROUTER = web.AppKey("router", Router)
