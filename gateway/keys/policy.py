"""What a key may use: its model allow-list, checked against the providers actually routed."""

from __future__ import annotations

from aiohttp import web

from gateway.errors import PermissionDenied
from gateway.keys.principal import PRINCIPAL, Principal
from gateway.providers.router import Candidate


def permitted(request: web.Request, candidates: list[Candidate]) -> list[Candidate]:
    """The candidates the caller's key may use; 403 when its model list allows none of them."""
    principal: Principal | None = request.get(PRINCIPAL)
    if principal is None or principal.models is None:
        return candidates
    allowed = [
        c for c in candidates if principal.allows_route(c.provider.id, c.model, c.upstream_model)
    ]
    if not allowed:
        first = candidates[0]
        model = first.model or first.upstream_model
        shown = model if len(model) <= 100 else model[:97] + "..."
        where = f" on provider '{first.provider.id}'" if len(candidates) == 1 else ""
        raise PermissionDenied(
            f"This API key may not use the model {shown!r}{where}.", param="model"
        )
    return allowed
