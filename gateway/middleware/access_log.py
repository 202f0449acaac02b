"""What the one middleware frame records when a request is over: access line and metrics.

Never headers or bodies. The frame itself (gateway.middleware) assigns the
request id and times the request; this module turns the outcome into one
access line and the request metrics.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from gateway.logs import AccessLog
from gateway.metrics import KNOWN_METHODS, METRICS, UPSTREAM_WAIT

ACCESS_LOG = web.AppKey("access_log", AccessLog)
"""The application's access-line writer (one per app, built by create_app)."""
CLIENT_CLOSED: Final = 499
"""The status logged for a request whose client disconnected (nginx's convention)."""


def route_template(request: web.Request) -> str:
    """The route's template (bounded cardinality), never the raw path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "<unmatched>"


def record_request(
    request: web.Request,
    status: int,
    elapsed: float,
    response: web.StreamResponse | None,
    request_id: str,
    access_log: AccessLog,
) -> None:
    """The request metrics and the access line, once the status the client got is known."""
    route = route_template(request)
    method = request.method
    if method not in KNOWN_METHODS:  # any token is a method: keep the label set bounded
        method = "OTHER"
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.observe_request(route, method, status, elapsed)
        upstream_wait = request.get(UPSTREAM_WAIT)
        if upstream_wait is not None:
            metrics.observe_overhead(elapsed - upstream_wait)
    if access_log.enabled:
        sent = 0
        if response is not None:
            sent = response.body_length or response.content_length or 0
        access_log.write(method, route, status, elapsed * 1000.0, request_id, sent)
