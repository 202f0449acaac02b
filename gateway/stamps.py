"""The gateway's response header stamps, run by one ``on_response_prepare`` hook.

Stamps are plain functions called in registration order just before a response
(streamed ones too) sends its headers: one coroutine per response rather than
one per stamp. Origin hooks (CORS) are awaited after them, and only for
requests that carry an ``Origin`` header, i.e. come from a browser.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

Stamp = Callable[[web.Request, web.StreamResponse], None]
OriginHook = Callable[[web.Request, web.StreamResponse], Awaitable[object]]

RESPONSE_STAMPS = web.AppKey("response_stamps", list[Stamp])
ORIGIN_HOOKS = web.AppKey("origin_hooks", list[OriginHook])


def setup(app: web.Application) -> None:
    """Register the hook; add stamps with ``app[RESPONSE_STAMPS].append(stamp)``."""
    stamps: list[Stamp] = []
    origin_hooks: list[OriginHook] = []
    app[RESPONSE_STAMPS] = stamps
    app[ORIGIN_HOOKS] = origin_hooks

    async def stamp_response(request: web.Request, response: web.StreamResponse) -> None:
        for stamp in stamps:
            stamp(request, response)
        if origin_hooks and hdrs.ORIGIN in request.headers:
            # The answer depends on the Origin: caches must not give it to another origin.
            response.headers.add(hdrs.VARY, hdrs.ORIGIN)
            for hook in origin_hooks:
                await hook(request, response)

    app.on_response_prepare.append(stamp_response)
