"""Route registration with the metadata every layer needs: group and OpenAPI operation.

Registering through ``add_route`` is what keeps /api/v1/openapi.json complete:
a route cannot exist without its description.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource

RouteGroup = Literal["public", "chat", "models", "admin", "metrics", "default"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorShape = Literal["openai", "anthropic", "negotiated"]
"""How a route's errors look: OpenAI's, Anthropic's, or Anthropic's for requests that
carry an ``anthropic-version`` header (routes both kinds of client share)."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path, as OpenAPI describes it."""

    summary: str
    tag: str
    responses: Mapping[int, str | Mapping[str, Any]]
    """Status -> description, or -> {"description": ..., "schema": {...}, "content_type": ...}."""
    request_schema: Mapping[str, Any] | None = None
    parameters: tuple[Mapping[str, Any], ...] = ()
    description: str | None = None


@dataclass(slots=True)
class RouteInfo:
    """What the middlewares need to know about a matched route."""

    group: RouteGroup
    path: str
    operations: dict[str, Operation] = field(default_factory=dict)
    errors: ErrorShape = "openai"


ROUTES = web.AppKey("routes", dict[AbstractResource, RouteInfo])
Check = Callable[[web.Request, RouteInfo | None], Awaitable[None]]
"""A step of the admission frame (see gateway.middleware): returns, or raises an error."""


def add_route(
    app: web.Application,
    method: str,
    path: str,
    handler: Handler,
    *,
    group: RouteGroup,
    operation: Operation,
    also_v1: bool = False,
    errors: ErrorShape = "openai",
) -> None:
    """Register ``handler`` with its group and OpenAPI operation (and under /v1 when asked)."""
    paths = [path]
    if also_v1:
        paths.append(path.replace("/api/v1/", "/v1/", 1))
    table = app[ROUTES]
    for one_path in paths:
        route = app.router.add_route(method, one_path, handler)
        assert route.resource is not None
        info = table.get(route.resource)
        if info is None:
            info = RouteInfo(group=group, path=one_path, errors=errors)
            table[route.resource] = info
        info.operations[method.lower()] = operation


def route_info(request: web.Request) -> RouteInfo | None:
    """The matched route's info, or None for unmatched paths (404/405)."""
    resource = request.match_info.route.resource
    if resource is None:
        return None
    return request.app[ROUTES].get(resource)


def anthropic_errors(request: web.Request) -> bool:
    """Whether this request's errors are answered in Anthropic's shape."""
    info = route_info(request)
    if info is None or info.errors == "openai":
        return False
    return info.errors == "anthropic" or "anthropic-version" in request.headers
