"""Refuse oversized bodies before reading them, by route group."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from gateway.endpoints import RouteGroup, RouteInfo
from gateway.errors import PayloadTooLarge
from gateway.settings import BodyLimitSettings

BodyLimit = Callable[[web.Request, RouteInfo | None], web.Request]
NO_BODY = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def body_limit_check(limits: BodyLimitSettings) -> BodyLimit:
    """A check that returns the request, or a clone reading a chunked body only up to the limit."""
    by_group: dict[RouteGroup, int] = {
        "chat": limits.chat_bytes,
        "admin": limits.admin_bytes,
    }

    def body_limit(request: web.Request, info: RouteInfo | None) -> web.Request:
        if request.method in NO_BODY:
            return request
        limit = by_group.get(info.group, limits.default_bytes) if info else limits.default_bytes
        length = request.content_length
        if length is None:
            # Chunked: aiohttp stops reading at client_max_size and raises 413.
            return request.clone(client_max_size=limit)
        if length > limit:
            raise PayloadTooLarge(
                f"Request body of {length} bytes is over this route's limit of {limit} bytes."
            )
        return request

    return body_limit
