"""The gateway's response header stamps, run by one ``on_response_prepare`` hook.

Stamps are plain functions called in registration order just before a response
(streamed ones too) sends its headers: one coroutine per response rather than
one per stamp.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

Stamp = Callable[[web.Request, web.StreamResponse], None]

RESPONSE_STAMPS = web.AppKey("response_stamps", list[Stamp])


def setup(app: web.Application) -> None:
    """Register the hook; add stamps with ``app[RESPONSE_STAMPS].append(stamp)``."""
    stamps: list[Stamp] = []
    app[RESPONSE_STAMPS] = stamps

    async def stamp_response(request: web.Request, response: web.StreamResponse) -> None:
        for stamp in stamps:
            stamp(request, response)

    app.on_response_prepare.append(stamp_response)
