"""An upstream's answer in the gateway's terms: the headers passed on, errors in our hierarchy.

Shared by the non-streaming and the streaming path, so both tell a client the
same thing about the same upstream answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

from gateway.adapters.base import JSON, Adapter, StreamUsage, Target, UpstreamRequest
from gateway.client_format import ClientFormat
from gateway.errors import (
    OVERLOADED,
    GatewayError,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
    error_class_for,
)
from gateway.metrics import UpstreamOutcome
from gateway.providers.live import LiveProvider
from gateway.upstream import UpstreamFailure, upstream_error
from gateway.validation import ChatParams

logger = logging.getLogger("gateway.proxy")

ADJUSTED_HEADER: Final = "X-Gateway-Adjusted"
PASSED_PREFIXES: Final = ("x-ratelimit-", "anthropic-ratelimit-")
PASSED_NAMES: Final = frozenset({"retry-after", "retry-after-ms"})

ChatRequest = tuple[JSON, bytes, ChatParams]
"""A chat body as an object, its bytes, and what routing and relaying need from it."""


def answer_headers(upstream_headers: Mapping[str, str], provider_id: str) -> dict[str, str]:
    """X-Gateway-Provider plus the upstream's rate-limit headers, under their own names."""
    headers = {"X-Gateway-Provider": provider_id}
    for name, value in upstream_headers.items():
        lower = name.lower()
        if lower.startswith(PASSED_PREFIXES) or lower in PASSED_NAMES:
            headers[name] = value
    return headers


def with_adjusted(headers: dict[str, str], outgoing: UpstreamRequest) -> dict[str, str]:
    """Name the request fields the adapter changed to fit the upstream (never silently)."""
    if outgoing.adjusted:
        headers[ADJUSTED_HEADER] = ", ".join(outgoing.adjusted)
    return headers


def retryable(status: int) -> bool:
    return status == 429 or status == 408 or status >= 500


def answered_error(
    adapter: Adapter,
    provider: LiveProvider,
    status: int,
    payload: bytes,
    headers: Mapping[str, str],
) -> GatewayError:
    """An upstream error answer in our hierarchy: 4xx keep their status and message."""
    message = adapter.parse_error(status, payload) or f"Provider answered {status}."
    passed = answer_headers(headers, provider.id)
    if status == 429:
        return RateLimited(message, headers=passed)
    if status >= 500:
        return UpstreamError(
            f"Provider '{provider.id}' failed ({status}): {message}",
            code=OVERLOADED if status == 529 else None,
            headers=passed,
        )
    return error_class_for(status)(message, status=status, headers=passed)


def no_adapter(provider: LiveProvider) -> GatewayError:
    return ServiceUnavailable(
        f"Provider '{provider.id}' needs the '{provider.adapter}' adapter, which is not loaded."
    )


def unusable(
    adapter: Adapter, provider: LiveProvider, payload: bytes, exc: UpstreamError
) -> UpstreamError:
    """A 200 JSON body that is no chat completion: its error message when it carries one."""
    message = adapter.parse_error(200, payload) if b'"error"' in payload else exc.message
    return UpstreamError(
        f"Provider '{provider.id}' sent no usable answer: {message}",
        headers={"X-Gateway-Provider": provider.id},
    )


def early_failure(provider: LiveProvider, exc: BaseException) -> GatewayError:
    """A stream that broke before its first chunk, as the error a client would get."""
    if isinstance(exc, GatewayError):
        exc.headers.setdefault("X-Gateway-Provider", provider.id)
        return exc
    if isinstance(exc, UpstreamFailure):
        return upstream_error(provider.id, exc)
    logger.exception("stream relay failed", exc_info=exc)
    return UpstreamError(
        "Internal error while reading the provider's stream.",
        code="internal_error",
        headers={"X-Gateway-Provider": provider.id},
    )


def unreachable_outcome(exc: UpstreamFailure) -> UpstreamOutcome:
    return "timeout" if exc.timed_out else "connection_error"


def failure_outcome(exc: BaseException) -> UpstreamOutcome:
    """The outcome of an attempt that ended with ``exc``."""
    if isinstance(exc, UpstreamFailure):
        return unreachable_outcome(exc)
    return "server_error"


def usage_of(answer: JSON) -> StreamUsage:
    usage = answer.get("usage")
    return StreamUsage.from_openai(usage) if isinstance(usage, dict) else StreamUsage()


def native_request(target: Target, path: str, fmt: ClientFormat, model: str) -> UpstreamRequest:
    """A format's body (and client headers it forwards) for a provider that speaks it itself."""
    extra = fmt.native_headers()
    headers = {**target.json_headers, **extra} if extra else target.json_headers
    return UpstreamRequest(
        "POST", target.url(path, model), headers, fmt.native_body(model), target.query
    )


def format_of(fmt: ClientFormat | None) -> ClientFormat:
    assert fmt is not None, "a native path comes from a format"
    return fmt
