"""Candidate order: forced, prefix, alias, listed by priority and weight, default, 404."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest

from gateway.adapters.base import Target
from gateway.errors import NotFound, ServiceUnavailable
from gateway.providers.live import LiveProvider
from gateway.providers.router import Router
from gateway.settings import RoutingSettings


class StaticDirectory:
    """A ProviderDirectory over a list the test replaces (the router alone, no registry)."""

    def __init__(self, providers: Sequence[LiveProvider]) -> None:
        self.providers = {p.id: p for p in providers}
        self.listeners: list[Callable[[str | None], None]] = []

    def get(self, provider_id: str) -> LiveProvider | None:
        return self.providers.get(provider_id)

    def all(self) -> Sequence[LiveProvider]:
        return list(self.providers.values())

    def subscribe(self, listener: Callable[[str | None], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def put(self, provider: LiveProvider) -> None:
        self.providers[provider.id] = provider
        for listener in self.listeners:
            listener(provider.id)


def provider(provider_id: str, **fields: Any) -> LiveProvider:
    target = Target(provider_id=provider_id, base_url="http://127.0.0.1:9", headers={})
    return LiveProvider(
        id=provider_id, name=provider_id, template="openai", adapter="openai", target=target,
        **fields,
    )  # fmt: skip


def router(*providers: Any, **routing: Any) -> tuple[Router, StaticDirectory]:
    directory = StaticDirectory(providers)
    return Router(directory, RoutingSettings(**routing)), directory


def ids(r: Router, model: str, forced: str | None = None) -> list[str]:
    return [c.provider.id for c in r.candidates(model, forced)]


def test_forced_header_wins_and_strips_its_own_prefix() -> None:
    r, _ = router(provider("a", static_models=("m",)), provider("b"))
    [only] = r.candidates("b/m", "b")
    assert (only.provider.id, only.upstream_model) == ("b", "m")
    assert ids(r, "m", "b") == ["b"]
    with pytest.raises(NotFound) as info:
        r.candidates("m", "nope")
    assert info.value.code == "provider_not_found"


def test_prefix_only_when_it_names_a_known_provider() -> None:
    r, _ = router(
        provider("groq", static_models=("meta-llama/Llama-3.1-8B",)),
        provider("openai"),
    )
    [c] = r.candidates("openai/gpt-4o")
    assert (c.provider.id, c.upstream_model) == ("openai", "gpt-4o")
    [c] = r.candidates("meta-llama/Llama-3.1-8B")
    assert (c.provider.id, c.upstream_model) == ("groq", "meta-llama/Llama-3.1-8B")


def test_provider_aliases_rename_the_upstream_model() -> None:
    r, _ = router(provider("a", aliases={"fast": "gpt-4o-mini"}))
    [c] = r.candidates("fast")
    assert c.upstream_model == "gpt-4o-mini"


def test_global_alias_to_provider_model_or_model() -> None:
    r, _ = router(
        provider("a", static_models=("gpt-4o",)),
        provider("b"),
        aliases={"best": "b/claude", "smart": "gpt-4o"},
    )
    [c] = r.candidates("best")
    assert (c.provider.id, c.upstream_model) == ("b", "claude")
    assert ids(r, "smart") == ["a"]


def test_priority_then_weighted_round_robin() -> None:
    r, _ = router(
        provider("low", priority=1, static_models=("m",)),
        provider("x", priority=5, weight=3, static_models=("m",)),
        provider("y", priority=5, weight=1, static_models=("m",)),
    )
    orders = [ids(r, "m") for _ in range(8)]
    assert all(order[-1] == "low" and len(order) == 3 for order in orders)
    firsts = [order[0] for order in orders]
    assert Counter(firsts) == {"x": 6, "y": 2}
    # Smooth: y is spread out, never two in a row.
    assert "y,y" not in ",".join(firsts)


def test_unavailable_and_disabled_providers() -> None:
    down = {"x"}
    directory = StaticDirectory(
        [
            provider("x", priority=5, static_models=("m",)),
            provider("y", priority=1, static_models=("m",)),
            provider("off", priority=9, enabled=False, static_models=("m",)),
        ]
    )
    r = Router(directory, RoutingSettings(), available=lambda pid: pid not in down)
    assert ids(r, "m") == ["y"]  # routing goes around the unavailable one
    down.add("y")
    with pytest.raises(ServiceUnavailable) as unavailable:
        r.candidates("m")
    assert unavailable.value.code == "providers_unavailable"
    assert "x" in unavailable.value.message and "y" in unavailable.value.message
    fallback = Router(
        directory, RoutingSettings(default_provider="off"), available=lambda pid: pid not in down
    )
    with pytest.raises(ServiceUnavailable):
        fallback.candidates("m")  # a disabled default provider is no way out
    down.clear()
    assert ids(r, "m") == ["x", "y"]
    with pytest.raises(NotFound) as info:
        r.candidates("off/m")
    assert info.value.code == "provider_disabled"


def test_allow_list_limits_models() -> None:
    r, _ = router(provider("a", static_models=("m", "n"), allowed_models=frozenset({"m"})))
    assert ids(r, "m") == ["a"]
    with pytest.raises(NotFound):
        r.candidates("n")
    with pytest.raises(NotFound) as info:
        r.candidates("a/n")
    assert info.value.code == "model_not_found"
    assert r.models() == [("a", "m")]


def test_default_provider_then_404() -> None:
    r, _ = router(provider("a"), default_provider="a")
    [c] = r.candidates("anything")
    assert (c.provider.id, c.upstream_model) == ("a", "anything")
    r, _ = router(provider("a"))
    with pytest.raises(NotFound) as info:
        r.candidates("anything")
    assert info.value.code == "model_not_found" and info.value.param == "model"


def test_index_follows_directory_changes() -> None:
    r, directory = router(provider("a", static_models=("m",)))
    assert ids(r, "m") == ["a"]
    directory.put(provider("b", priority=3, static_models=("m",)))
    assert ids(r, "m") == ["b", "a"]
    directory.put(provider("b", enabled=False, static_models=("m",)))
    assert ids(r, "m") == ["a"]


class Catalog:
    def __init__(self, models: dict[str, list[str]]) -> None:
        self.by_provider = models

    def providers_for(self, model: str) -> Sequence[str]:
        return [pid for pid, names in self.by_provider.items() if model in names]

    def models_of(self, provider_id: str) -> Iterable[str]:
        return self.by_provider.get(provider_id, [])


def test_catalog_adds_discovered_models() -> None:
    directory = StaticDirectory([provider("a", static_models=("m",)), provider("b")])
    r = Router(directory, RoutingSettings(), catalog=Catalog({"b": ["m", "found"]}))
    assert ids(r, "found") == ["b"]
    assert ids(r, "m") == ["a", "b"]
    assert r.models() == [("a", "m"), ("b", "m"), ("b", "found")]
