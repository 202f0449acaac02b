"""Security headers and the request id, stamped on every response just before it is sent.

This runs as a response stamp (see response_stamps) rather than a wrapping
middleware so that streamed responses, whose headers leave before the handler
returns, get them too.
"""

from __future__ import annotations

from aiohttp import web
from multidict import istr

from gateway.settings import Settings
from gateway.stamps import Stamp
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


def response_stamper(settings: Settings) -> Stamp:
    # istr names: multidict skips folding their case on every response.
    fixed = [(istr(name), value) for name, value in security_headers(settings).items()]
    request_id_name, server_name = istr("X-Request-ID"), istr("Server")

    def stamp(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        for name, value in fixed:
            # A page served by the gateway may set its own policy first.
            headers.setdefault(name, value)
        headers[request_id_name] = request.get(REQUEST_ID, "-")
        headers[server_name] = "gateway"  # no version banner

    return stamp
