"""Who is calling: the principal the auth middleware puts on each request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

Scope = Literal["chat", "models", "admin"]
BudgetPeriod = Literal["day", "month", "total"]
ALL_SCOPES: frozenset[str] = frozenset({"chat", "models", "admin"})


@dataclass(frozen=True, slots=True)
class Budget:
    """A key's spending limits within one period (UTC day, UTC month, or ever)."""

    period: BudgetPeriod
    usd: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller as the middlewares and routes see it (never the key itself)."""

    key_id: str | None
    """None when auth is off: limits then key on the client address."""
    name: str
    scopes: frozenset[str]
    models: frozenset[str] | None = None
    """The models this key may use (``provider/model``, ``provider/*`` or a bare model name
    any provider may serve); None means every model."""
    rpm: int | None = None
    tpm: int | None = None
    expires_at: float | None = None
    """Unix time after which the key is refused."""
    budget: Budget | None = None
    """None: no budget or token limit (no check on the request path)."""

    def allows_route(self, provider_id: str, *names: str) -> bool:
        """Whether this key may have ``provider_id`` serve a model known there by ``names``.

        Checked against the provider actually routed, so X-Gateway-Provider cannot
        move an allowed model name to another provider.
        """
        models = self.models
        if models is None or f"{provider_id}/*" in models:
            return True
        return any(
            f"{provider_id}/{name}" in models or ("/" not in name and name in models)
            for name in names
        )


ANONYMOUS = Principal(key_id=None, name="anonymous", scopes=ALL_SCOPES)
ADMIN = Principal(key_id="admin", name="admin", scopes=frozenset({"admin"}))

PRINCIPAL = web.RequestKey("principal", Principal)
