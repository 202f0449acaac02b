"""One error hierarchy, mapped to OpenAI's error JSON (or Anthropic's, per route) in one place.

Known secrets are masked where messages are put into bodies (``error_body``,
``anthropic_body``).

OpenAI SDKs pick their exception class from the HTTP status, and show
``error.message``; ``param`` names the offending field and ``code`` is a
stable machine-readable reason. Routes of Anthropic's Messages API answer the
same errors in Anthropic's shape (``anthropic_body``), with the same status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson
from aiohttp import web

from gateway.security.redaction import mask_secrets


class GatewayError(Exception):
    """Base of every error the gateway answers with on purpose."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.status_override = status
        self.headers = dict(headers) if headers else {}

    @property
    def http_status(self) -> int:
        return self.status_override or self.status

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.param, self.code)


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "invalid_request_error"
    default_code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"
    default_code = "permission_denied"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    default_code = "not_found"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    default_code = "method_not_allowed"


class Conflict(GatewayError):
    status = 409
    type = "invalid_request_error"
    default_code = "conflict"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    default_code = "payload_too_large"


class UnsupportedMediaType(GatewayError):
    status = 415
    type = "invalid_request_error"
    default_code = "unsupported_media_type"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class QuotaExceeded(GatewayError):
    """A key's budget for the period is spent (OpenAI's ``insufficient_quota``)."""

    status = 429
    type = "insufficient_quota"
    default_code = "insufficient_quota"


class UpstreamError(GatewayError):
    """The provider failed or answered with an error; status mirrors theirs where useful."""

    status = 502
    type = "upstream_error"
    default_code = "upstream_error"


class ServiceUnavailable(GatewayError):
    status = 503
    type = "service_unavailable"
    default_code = "service_unavailable"


_BY_STATUS: dict[int, type[GatewayError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    429: RateLimited,
    502: UpstreamError,
    503: ServiceUnavailable,
}


def error_class_for(status: int) -> type[GatewayError]:
    """The error class whose status is ``status``, or the nearest family."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return InvalidRequest if status < 500 else GatewayError


def error_body(
    message: str, type_: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """The one place an error message is put into a body: known secrets are masked here.

    Upstream messages may echo the provider key they received; this covers JSON
    answers and stream error events alike.
    """
    return {
        "error": {"message": mask_secrets(message), "type": type_, "param": param, "code": code}
    }


ANTHROPIC_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
"""Anthropic's error type for a status; other 4xx are invalid requests, other 5xx api errors."""

OVERLOADED = "upstream_overloaded"
"""The code of an upstream's 529 (Anthropic: overloaded); Anthropic clients get the 529 back."""

RETRY_STATUSES = frozenset({429, 503, 529})
DEFAULT_RETRY_AFTER = "1"
"""Seconds, for an Anthropic client whose retryable error carries no hint of its own."""


def anthropic_type(status: int) -> str:
    return ANTHROPIC_TYPES.get(status) or ("invalid_request_error" if status < 500 else "api_error")


def anthropic_body(message: str, status: int, param: str | None = None) -> dict[str, Any]:
    """Anthropic's error object; its messages name the field first (``messages.0.role: ...``)."""
    if param and not message.startswith(param):
        message = f"{param}: {message}"
    return {
        "type": "error",
        "error": {"type": anthropic_type(status), "message": mask_secrets(message)},
    }


def error_response(error: GatewayError, *, anthropic: bool = False) -> web.Response:
    """The one place a GatewayError becomes an HTTP answer (Anthropic's shape when asked)."""
    status = error.http_status
    if not anthropic:
        body, headers = error.body(), error.headers
    else:
        if error.code == OVERLOADED:
            status = 529
        body = anthropic_body(error.message, status, error.param)
        headers = error.headers
        if status in RETRY_STATUSES and not any(k.lower() == "retry-after" for k in headers):
            headers = {**headers, "retry-after": DEFAULT_RETRY_AFTER}
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )
