"""Turn every failure, ours or aiohttp's, into OpenAI's error shape (Anthropic's on its routes)."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.endpoints import anthropic_errors
from gateway.errors import (
    GatewayError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    error_class_for,
    error_response,
)
from gateway.state import REQUEST_ID
from gateway.storage.base import StorageUnavailable

logger = logging.getLogger("gateway.errors")


def from_http_exception(exc: web.HTTPException) -> GatewayError:
    """Map aiohttp's own HTTP errors (404, 405, 413, ...) into our hierarchy."""
    if isinstance(exc, web.HTTPNotFound):
        return NotFound("Unknown route; see /api/v1/openapi.json for what exists.")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return MethodNotAllowed(
            f"Method {exc.method} is not allowed here; allowed: {allowed}.",
            headers={"Allow": allowed},
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge("Request body is larger than this route accepts.")
    cls = error_class_for(exc.status)
    return cls(exc.reason or "Request failed.", status=exc.status)


def storage_unavailable(exc: StorageUnavailable) -> GatewayError:
    """A write while the shared store is down: 503 with the store's own (secret-free) reason."""
    return ServiceUnavailable(str(exc), code="storage_unavailable", headers={"Retry-After": "1"})


def error_for(request: web.Request, exc: Exception) -> web.Response | None:
    """The answer for a failure; None for what must propagate (a redirect, a reset).

    OpenAI's shape, or Anthropic's on the routes of its API (auth and limit
    errors included). Call it from an ``except`` block: unexpected errors are
    logged with their traceback.
    """
    error: GatewayError
    if isinstance(exc, GatewayError):
        error = exc
    elif isinstance(exc, StorageUnavailable):
        error = storage_unavailable(exc)
    elif isinstance(exc, web.HTTPException):
        if exc.status < 400:
            return None
        error = from_http_exception(exc)
    elif isinstance(exc, ConnectionResetError):
        return None
    else:
        request_id = request.get(REQUEST_ID, "-")
        logger.exception("unhandled error in %s %s", request.method, request.path)
        error = GatewayError(
            f"Internal server error (request id {request_id}).", code="internal_error"
        )
    return error_response(error, anthropic=anthropic_errors(request))
