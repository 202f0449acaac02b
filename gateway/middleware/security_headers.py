"""Security headers and the request id, stamped on every response just before it is sent.

This runs as an ``on_response_prepare`` hook rather than a wrapping middleware so
that streamed responses, whose headers leave before the handler returns, get
them too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.settings import Settings
from gateway.state import REQUEST_ID

API_CSP = "default-src 'none'; frame-ancestors 'none'"


def security_headers(settings: Settings) -> dict[str, str]:
    headers = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": API_CSP,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-site",
    }
    if settings.server.hsts:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def response_stamper(
    settings: Settings,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    fixed = security_headers(settings)

    async def stamp(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        for name, value in fixed.items():
            # A page served by the gateway may set its own policy first.
            headers.setdefault(name, value)
        headers["X-Request-ID"] = request.get(REQUEST_ID, "-")
        headers["Server"] = "gateway"  # no version banner

    return stamp
