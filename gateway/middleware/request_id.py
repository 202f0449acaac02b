"""Give every request an id: a sane incoming X-Request-ID, or a fresh one."""

from __future__ import annotations

import os
import re

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.logs import request_id_var
from gateway.state import REQUEST_ID

_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def new_request_id() -> str:
    return os.urandom(12).hex()


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID")
    request_id = incoming if incoming and _SANE_ID.fullmatch(incoming) else new_request_id()
    request[REQUEST_ID] = request_id
    token = request_id_var.set(request_id)
    try:
        return await handler(request)
    finally:
        request_id_var.reset(token)
