"""The client side of one streaming call: SSE headers sent once, keep-alives while we wait.

Until the first data chunk the call may still fall back to another candidate;
if that takes longer than the keep-alive interval, the SSE response is
committed and ``: keep-alive`` comments hold the client's connection open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Final, TypeVar

from aiohttp import web

KEEPALIVE: Final = b": keep-alive\n\n"
SSE_HEADERS: Final = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}

T = TypeVar("T")


class ClientStream:
    """One call's SSE response once committed, and its keep-alive clock."""

    __slots__ = ("keepalive_s", "loop", "next_keepalive", "request", "sse")

    def __init__(self, request: web.Request, keepalive_s: float) -> None:
        self.request = request
        self.keepalive_s = keepalive_s
        self.loop = asyncio.get_running_loop()
        self.next_keepalive = self.loop.time() + keepalive_s
        self.sse: web.StreamResponse | None = None

    async def commit(self, headers: Mapping[str, str]) -> web.StreamResponse:
        """Send the SSE response's headers (once; later calls return the same response)."""
        if self.sse is None:
            sse = web.StreamResponse(headers={**SSE_HEADERS, **headers})
            await sse.prepare(self.request)
            self.sse = sse
        return self.sse

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """Await while no data flows: each keep-alive interval commits (if needed) and comments.

        On any exit but the awaited result (client gone, cancellation) the
        awaited work is cancelled and finished before this returns.
        """
        task = asyncio.ensure_future(awaitable)
        try:
            while True:
                timeout = max(0.0, self.next_keepalive - self.loop.time())
                done, _ = await asyncio.wait((task,), timeout=timeout)
                if done:
                    return task.result()
                # No provider known yet: X-Gateway-Provider would be a guess, so none is sent.
                sse = await self.commit({})
                await sse.write(KEEPALIVE)
                self.next_keepalive = self.loop.time() + self.keepalive_s
        except BaseException:
            if not task.done():
                task.cancel()
                await asyncio.wait((task,))
            raise
