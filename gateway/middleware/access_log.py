"""One access log line and the request metrics per request; never headers or bodies."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.logs import access_logger
from gateway.metrics import METRICS, UPSTREAM_WAIT


def route_template(request: web.Request) -> str:
    """The route's template (bounded cardinality), never the raw path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "<unmatched>"


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = route_template(request)
        metrics = request.app.get(METRICS)
        if metrics is not None:
            metrics.observe_request(route, request.method, status, elapsed)
            upstream_wait = request.get(UPSTREAM_WAIT)
            if upstream_wait is not None:
                metrics.observe_overhead(elapsed - upstream_wait)
        if access_logger.isEnabledFor(20):
            elapsed_ms = elapsed * 1000.0
            sent = 0
            if response is not None:
                sent = response.body_length or response.content_length or 0
            access_logger.info(
                "%s %s %d %.1fms %dB",
                request.method,
                route,
                status,
                elapsed_ms,
                sent,
                extra={
                    "method": request.method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed_ms, 2),
                    "bytes_sent": sent,
                },
            )
