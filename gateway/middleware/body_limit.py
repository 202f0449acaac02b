"""Refuse oversized bodies before reading them, by route group."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.errors import PayloadTooLarge
from gateway.routes.table import RouteGroup, route_info
from gateway.settings import BodyLimitSettings


def body_limit_middleware(limits: BodyLimitSettings) -> Middleware:
    by_group: dict[RouteGroup, int] = {
        "chat": limits.chat_bytes,
        "admin": limits.admin_bytes,
    }
    smallest = min(limits.chat_bytes, limits.admin_bytes, limits.default_bytes)

    @web.middleware
    async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return await handler(request)
        length = request.content_length
        if length is not None and length <= smallest:
            return await handler(request)  # within every limit: no need to know the route
        info = route_info(request)
        limit = by_group.get(info.group, limits.default_bytes) if info else limits.default_bytes
        if length is not None and length > limit:
            raise PayloadTooLarge(
                f"Request body of {length} bytes is over this route's limit of {limit} bytes."
            )
        if length is None:
            # Chunked: aiohttp stops reading at client_max_size and raises 413.
            return await handler(request.clone(client_max_size=limit))
        return await handler(request)

    return body_limit
