"""Serve one app in this process, with graceful shutdown on SIGTERM and SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from aiohttp import web

from gateway.app import create_app
from gateway.connections import GatewayRunner
from gateway.settings import Settings
from gateway.state import LIFECYCLE

logger = logging.getLogger("gateway.server")


def install_event_loop_policy() -> None:
    """uvloop where it is installed; asyncio's own loop otherwise."""
    try:
        import uvloop
    except ImportError:
        logger.info("uvloop not installed; using asyncio's event loop")
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def serve_app(app: web.Application, settings: Settings) -> None:
    """Run until SIGTERM/SIGINT, then drain: refuse new connections, finish in-flight ones."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = GatewayRunner(
        app,
        settings,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=settings.server.shutdown_timeout,
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
        app[LIFECYCLE].draining.set()
    finally:
        # aiohttp's cleanup order is the drain: close the listening socket (new
        # connections are refused), close idle keep-alive connections, run
        # on_shutdown, wait up to shutdown_timeout for in-flight handlers, cancel
        # the rest, then run cleanup contexts (storage, client sessions).
        await runner.cleanup()
        logger.info("shutdown complete")


def run(settings: Settings) -> None:
    install_event_loop_policy()
    asyncio.run(serve_app(create_app(settings), settings))
