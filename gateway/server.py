"""Serve one app in this process, with graceful shutdown on SIGTERM and SIGINT.

The whole drain fits in ``server.shutdown_timeout``: in-flight requests get all
of it but the last second (at most half of it); then the chat calls still
running are ended (Lifecycle.cut), a stream with a final ``server_shutting_down``
event, and aiohttp closes whatever else is left at the timeout.
A worker started by ``--workers`` also drains when its supervisor dies: it
watches a pipe whose other end only the supervisor holds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from aiohttp import web

from gateway.app import create_app
from gateway.connections import GatewayRunner
from gateway.logs import AccessLog
from gateway.settings import Settings
from gateway.state import LIFECYCLE

logger = logging.getLogger("gateway.server")

FINAL_EVENTS_S = 1.0
"""The end of the shutdown timeout kept for ending the streams still open."""


def install_event_loop_policy() -> None:
    """uvloop where it is installed; asyncio's own loop otherwise."""
    try:
        import uvloop
    except ImportError:
        logger.info("uvloop not installed; using asyncio's event loop")
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def drain_seconds(shutdown_timeout: float) -> float:
    """How long chat calls may run on after a stop; the rest of the timeout ends them."""
    return shutdown_timeout - min(FINAL_EVENTS_S, shutdown_timeout / 2)


def _watch_parent(loop: asyncio.AbstractEventLoop, fd: int, stop: asyncio.Event) -> None:
    """Stop when the pipe from the supervisor ends: the supervisor is gone."""

    def parent_gone() -> None:
        loop.remove_reader(fd)
        if not stop.is_set():
            logger.warning("supervisor gone: stopping")
            stop.set()

    loop.add_reader(fd, parent_gone)


async def serve_app(app: web.Application, settings: Settings, parent_fd: int | None = None) -> None:
    """Run until SIGTERM/SIGINT, then drain: refuse new connections, finish in-flight ones."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if parent_fd is not None:
        _watch_parent(loop, parent_fd, stop)
    runner = GatewayRunner(
        app,
        settings,
        handle_signals=False,
        access_log=None,
        # aiohttp waits this long for handlers, then as long again before it closes
        # their connections; the chat calls are ended (Lifecycle.cut) before that.
        shutdown_timeout=settings.server.shutdown_timeout / 2,
        # A client that goes away cancels its handler, which drops the upstream request.
        handler_cancellation=True,
    )
    await runner.setup()
    site = web.TCPSite(
        runner,
        settings.server.host,
        settings.server.port,
        reuse_port=settings.server.reuse_port or None,
        backlog=1024,
    )
    await site.start()
    for host, port, *_ in runner.addresses:
        logger.info(
            "gateway %d listening on http://%s:%d (env %s)", os.getpid(), host, port, settings.env
        )
    try:
        await stop.wait()
        logger.info(
            "shutting down: draining in-flight requests for up to %.0fs",
            settings.server.shutdown_timeout,
        )
        lifecycle = app[LIFECYCLE]
        lifecycle.draining.set()
        loop.call_later(drain_seconds(settings.server.shutdown_timeout), lifecycle.cut)
    finally:
        # aiohttp's cleanup order is the drain: close the listening socket (new
        # connections are refused), close idle keep-alive connections, run
        # on_shutdown, wait up to the drain time for in-flight handlers, cancel
        # the rest, then run cleanup contexts (storage, client sessions).
        await runner.cleanup()
        logger.info("shutdown complete")


def run(
    settings: Settings, parent_fd: int | None = None, access_log: AccessLog | None = None
) -> None:
    install_event_loop_policy()
    asyncio.run(serve_app(create_app(settings, access_log), settings, parent_fd))
