"""Send a request to the first candidate that answers, and relay its answer.

Fallback: a candidate that cannot be reached, times out, or answers 429 or 5xx
before anything reached the client is followed by the next one (up to
``routing.max_attempts``). Other 4xx answers go back to the client in OpenAI's
error shape with the upstream's message and status. Once a stream has started,
a failure ends it with one final ``data: {"error": ...}`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final

import aiohttp
import orjson
from aiohttp import web

from gateway.adapters.base import JSON, Adapter, StreamUsage, UpstreamRequest
from gateway.errors import (
    GatewayError,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
    error_body,
    error_class_for,
)
from gateway.providers.live import LiveProvider
from gateway.providers.router import Candidate
from gateway.state import SETTINGS
from gateway.upstream import UPSTREAM, UpstreamUnreachable, sse_data
from gateway.usage import combined, on_usage
from gateway.validation import ChatParams

logger = logging.getLogger("gateway.proxy")

ADAPTERS = web.AppKey("adapters", dict[str, Adapter])
"""Wire-format adapters by name (LiveProvider.adapter): openai, anthropic, gemini."""

KEEPALIVE: Final = b": keep-alive\n\n"
DONE_EVENT: Final = b"data: [DONE]\n\n"
PASSED_PREFIXES: Final = ("x-ratelimit-", "anthropic-ratelimit-")
SSE_HEADERS: Final = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}

BuildRequest = Callable[[Adapter, Candidate], UpstreamRequest]
ParseAnswer = Callable[[Adapter, bytes], JSON]


def answer_headers(upstream_headers: Mapping[str, str], provider_id: str) -> dict[str, str]:
    """X-Gateway-Provider plus the upstream's rate-limit headers, under their own names."""
    headers = {"X-Gateway-Provider": provider_id}
    for name, value in upstream_headers.items():
        lower = name.lower()
        if lower.startswith(PASSED_PREFIXES) or lower == "retry-after":
            headers[name] = value
    return headers


def retryable(status: int) -> bool:
    return status == 429 or status == 408 or status >= 500


def _unreachable(provider: LiveProvider, exc: UpstreamUnreachable) -> UpstreamError:
    return UpstreamError(
        f"Provider '{provider.id}': {exc.reason}.",
        status=504 if exc.timed_out else 502,
        code="upstream_timeout" if exc.timed_out else "upstream_unreachable",
        headers={"X-Gateway-Provider": provider.id},
    )


def _answered_error(
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
            f"Provider '{provider.id}' failed ({status}): {message}", headers=passed
        )
    return error_class_for(status)(message, status=status, headers=passed)


def _no_adapter(provider: LiveProvider) -> GatewayError:
    return ServiceUnavailable(
        f"Provider '{provider.id}' needs the '{provider.adapter}' adapter, which is not loaded."
    )


def _usage_of(answer: JSON) -> StreamUsage:
    usage = answer.get("usage")
    if not isinstance(usage, dict):
        return StreamUsage()
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    return StreamUsage(
        prompt_tokens=prompt if isinstance(prompt, int) else 0,
        completion_tokens=completion if isinstance(completion, int) else 0,
    )


async def complete(
    request: web.Request,
    candidates: list[Candidate],
    model: str,
    build: BuildRequest,
    parse: ParseAnswer,
) -> web.Response:
    """A non-streaming call: the first good answer, normalized, as one JSON response."""
    app = request.app
    upstream = app[UPSTREAM]
    adapters = app[ADAPTERS]
    last: GatewayError | None = None
    for candidate in candidates[: app[SETTINGS].routing.max_attempts]:
        provider = candidate.provider
        adapter = adapters.get(provider.adapter)
        if adapter is None:
            last = _no_adapter(provider)
            continue
        try:
            response = await upstream.send(build(adapter, candidate), provider.timeout_s)
        except UpstreamUnreachable as exc:
            last = _unreachable(provider, exc)
            continue
        try:
            payload = await upstream.read(response)
        except UpstreamUnreachable as exc:
            last = _unreachable(provider, exc)
            continue
        finally:
            response.close()
        status = response.status
        if status >= 400:
            error = _answered_error(adapter, provider, status, payload, response.headers)
            if retryable(status):
                last = error
                continue
            raise error
        try:
            answer = parse(adapter, payload)
        except UpstreamError as exc:
            exc.headers.setdefault("X-Gateway-Provider", provider.id)
            last = exc
            continue
        on_usage(request, provider.id, model, _usage_of(answer))
        return web.Response(
            body=orjson.dumps(answer),
            content_type="application/json",
            headers=answer_headers(response.headers, provider.id),
        )
    assert last is not None, "the router never returns an empty candidate list"
    raise last


async def stream(
    request: web.Request,
    candidates: list[Candidate],
    body: JSON,
    raw: bytes,
    params: ChatParams,
) -> web.StreamResponse:
    """A streaming chat call relayed as SSE, ending in ``data: [DONE]`` or an error event."""
    app = request.app
    upstream = app[UPSTREAM]
    adapters = app[ADAPTERS]
    settings = app[SETTINGS]
    usage: list[StreamUsage] = []
    served: str | None = None
    last: GatewayError | None = None
    try:
        for candidate in candidates[: settings.routing.max_attempts]:
            provider = candidate.provider
            adapter = adapters.get(provider.adapter)
            if adapter is None:
                last = _no_adapter(provider)
                continue
            outgoing = adapter.build_chat(
                provider.target, body, raw, candidate.upstream_model, True
            )
            try:
                response = await upstream.send(outgoing, provider.timeout_s)
            except UpstreamUnreachable as exc:
                last = _unreachable(provider, exc)
                continue
            try:
                if response.status >= 400:
                    try:
                        payload = await upstream.read(response)
                    except UpstreamUnreachable as exc:
                        last = _unreachable(provider, exc)
                        continue
                    error = _answered_error(
                        adapter, provider, response.status, payload, response.headers
                    )
                    if retryable(response.status):
                        last = error
                        continue
                    raise error
                served = provider.id
                sse = web.StreamResponse(
                    headers={**SSE_HEADERS, **answer_headers(response.headers, provider.id)}
                )
                await sse.prepare(request)
                chunks = adapter.stream_chat(
                    sse_data(response), params.model, params.include_usage, usage
                )
                try:
                    await _relay(sse, chunks, settings.upstream.keepalive_interval_s)
                finally:
                    aclose = getattr(chunks, "aclose", None)
                    if aclose is not None:
                        await aclose()
                return sse
            finally:
                # Drops the upstream connection unless the body was read to its end.
                response.close()
        assert last is not None, "the router never returns an empty candidate list"
        raise last
    finally:
        if served is not None:
            on_usage(request, served, params.model, combined(usage) if usage else StreamUsage())


async def _relay(sse: web.StreamResponse, chunks: AsyncIterator[bytes], keepalive_s: float) -> None:
    """Write every chunk as it comes; keep-alive comments until the first one."""
    try:
        first = await _first(chunks, sse, keepalive_s)
        if first is not None:
            await sse.write(first)
            async for chunk in chunks:
                await sse.write(chunk)
        await sse.write(DONE_EVENT)
    except ConnectionResetError:
        return  # the client went away; the caller closes the upstream response
    except (TimeoutError, aiohttp.ClientError, GatewayError) as exc:
        await _end_with_error(sse, exc)
    except Exception as exc:
        # An adapter bug must still end the stream cleanly rather than leave it hanging.
        logger.exception("stream relay failed")
        await _end_with_error(sse, exc)


async def _first(
    chunks: AsyncIterator[bytes], sse: web.StreamResponse, keepalive_s: float
) -> bytes | None:
    """The first chunk (None for an empty stream), sending ``: keep-alive`` while waiting."""
    waiting: asyncio.Future[bytes] = asyncio.ensure_future(anext(chunks))
    try:
        while True:
            done, _ = await asyncio.wait((waiting,), timeout=keepalive_s)
            if done:
                break
            await sse.write(KEEPALIVE)
    except BaseException:
        waiting.cancel()
        raise
    try:
        return waiting.result()
    except StopAsyncIteration:
        return None


def _stream_error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, GatewayError):
        return exc.body()
    if isinstance(exc, TimeoutError):
        message = "The provider stopped sending before the answer was complete (timeout)."
        return error_body(message, "upstream_error", None, "upstream_timeout")
    if not isinstance(exc, aiohttp.ClientError):
        return error_body(
            "Internal error while relaying the stream.", "server_error", None, "internal_error"
        )
    message = "The connection to the provider broke before the answer was complete."
    return error_body(message, "upstream_error", None, "upstream_disconnected")


async def _end_with_error(sse: web.StreamResponse, exc: BaseException) -> None:
    with contextlib.suppress(ConnectionResetError):
        await sse.write(b"data: " + orjson.dumps(_stream_error(exc)) + b"\n\n")
