"""GET /metrics: the Prometheus exposition, optionally behind a bearer token."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.endpoints import Operation, add_route, route_info
from gateway.ledger.service import LEDGER
from gateway.metrics import METRICS, UPSTREAM_WAIT
from gateway.routes.common import text_answer
from gateway.stamps import RESPONSE_STAMPS
from gateway.state import SETTINGS


async def metrics(request: web.Request) -> web.Response:
    """The exposition; the auth middleware has checked the metrics token, when one is set."""
    metrics = request.app[METRICS]
    ledger = request.app.get(LEDGER)
    if ledger is not None:
        ledger.drain()  # the cost of every request answered before the scrape
    metrics.flush()  # so the scrape sees every request answered before it
    # Collecting reads every worker's files in multiprocess mode: keep it off the loop.
    body = await asyncio.to_thread(metrics.exposition)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def count_rate_limited(request: web.Request, response: web.StreamResponse) -> None:
    """Response stamp: count 429s the gateway's own limits answered.

    A 429 relayed from a provider always follows an upstream wait; the gateway's
    requests-per-minute and tokens-per-minute refusals never do.
    """
    if response.status == 429 and UPSTREAM_WAIT not in request:
        info = route_info(request)
        request.app[METRICS].record_rate_limited(info.group if info is not None else "default")


def setup(app: web.Application) -> None:
    if not app[SETTINGS].metrics.enabled:
        return
    app[RESPONSE_STAMPS].append(count_rate_limited)
    add_route(
        app,
        "GET",
        "/metrics",
        metrics,
        group="metrics",
        operation=Operation(
            summary="Prometheus metrics",
            tag="metrics",
            description=(
                "Prometheus text exposition. With metrics.token set, send it as a bearer token. "
                "With several workers the numbers add up across them."
            ),
            responses={
                200: text_answer("Metrics in Prometheus' text format", "text/plain"),
                401: "Missing or wrong metrics token",
            },
        ),
    )
