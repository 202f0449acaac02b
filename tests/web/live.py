"""Serve an aiohttp application from a background thread with its own event loop.

Playwright's sync API cannot run inside a running event loop, so browser tests
run the gateway (and fake upstreams) on a thread of their own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web


@contextmanager
def serve_in_thread(app: web.Application) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 at a free port; yield its base URL; stop it on exit."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, handle_signals=False)
    ready = threading.Event()
    failure: list[BaseException] = []
    address: list[str] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            host, port = runner.addresses[0][:2]
            address.append(f"http://{host}:{port}")
        except BaseException as exc:  # reported to the test thread below
            failure.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="live-server", daemon=True)
    thread.start()
    if not ready.wait(15):
        raise RuntimeError("the live server did not start within 15 s")
    if failure:
        raise failure[0]
    try:
        yield address[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
