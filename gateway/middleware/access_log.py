"""The outermost frame: request id, timing, error mapping, access line and metrics.

Steps that used to be three middlewares run here in their old order, since each
coroutine frame costs on every request: the id is assigned first (it must exist
before anything logs), failures become OpenAI errors inside the timing (the
line shows the status the client got), then one access line and the request
metrics. Never headers or bodies.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.logs import access_log, request_id_var
from gateway.metrics import KNOWN_METHODS, METRICS, UPSTREAM_WAIT
from gateway.middleware.errors import error_for
from gateway.middleware.request_id import accepted_id
from gateway.state import REQUEST_ID

CLIENT_CLOSED: Final = 499
"""The status logged for a request whose client disconnected (nginx's convention)."""


def route_template(request: web.Request) -> str:
    """The route's template (bounded cardinality), never the raw path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "<unmatched>"


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = accepted_id(request.headers.get("X-Request-ID"))
    request[REQUEST_ID] = request_id
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = 500
    response: web.StreamResponse | None = None
    try:
        try:
            response = await handler(request)
        except Exception as exc:
            response = error_for(request, exc)
            if response is None:
                raise
        status = response.status
        return response
    except web.HTTPException as exc:  # a redirect passes through
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED  # the client went away before the answer was complete
        raise
    finally:
        elapsed = time.perf_counter() - started
        request_id_var.reset(token)  # before recording: the line carries the id itself
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
