"""Send a request to the first candidate that answers, and relay its answer.

Fallback: a candidate that cannot be reached, times out, or answers 429 or 5xx
before anything reached the client is followed by the next one (up to
``routing.max_attempts``). Other 4xx answers go back to the client in OpenAI's
error shape with the upstream's message and status. A stream may fall back
until its first data chunk, even after a keep-alive comment committed the SSE
response; from then on a failure ends it with one final ``data: {"error": ...}``
event (never a hang, never half an event).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

import orjson
from aiohttp import web

from gateway.adapters import ADAPTERS
from gateway.adapters.base import JSON, Adapter, StreamUsage, UpstreamRequest
from gateway.adapters.shapes import completion_chunks
from gateway.adapters.sse import iter_data
from gateway.errors import (
    GatewayError,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
    error_body,
    error_class_for,
)
from gateway.metrics import METRICS, UpstreamOutcome, add_upstream_wait, outcome_for_status
from gateway.providers.health import PROVIDER_HEALTH
from gateway.providers.live import LiveProvider
from gateway.providers.router import Candidate
from gateway.state import SETTINGS
from gateway.upstream import UPSTREAM, UpstreamFailure, upstream_error
from gateway.usage import combined, on_usage
from gateway.validation import ChatParams

logger = logging.getLogger("gateway.proxy")

KEEPALIVE: Final = b": keep-alive\n\n"
DONE_EVENT: Final = b"data: [DONE]\n\n"
PASSED_PREFIXES: Final = ("x-ratelimit-", "anthropic-ratelimit-")
PASSED_NAMES: Final = frozenset({"retry-after", "retry-after-ms"})
HEALTHY_OUTCOMES: Final = frozenset({"ok", "client_error", "cancelled"})
"""Attempts that say the provider works (a 4xx other than 429 is the caller's problem)."""
SSE_HEADERS: Final = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}

T = TypeVar("T")
BuildRequest = Callable[[Adapter, Candidate], UpstreamRequest]
ParseAnswer = Callable[[Adapter, bytes], JSON]


def answer_headers(upstream_headers: Mapping[str, str], provider_id: str) -> dict[str, str]:
    """X-Gateway-Provider plus the upstream's rate-limit headers, under their own names."""
    headers = {"X-Gateway-Provider": provider_id}
    for name, value in upstream_headers.items():
        lower = name.lower()
        if lower.startswith(PASSED_PREFIXES) or lower in PASSED_NAMES:
            headers[name] = value
    return headers


def retryable(status: int) -> bool:
    return status == 429 or status == 408 or status >= 500


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
    return StreamUsage.from_openai(usage) if isinstance(usage, dict) else StreamUsage()


class _Attempts:
    """Per-request bookkeeping of upstream attempts: metrics, upstream wait, passive health."""

    __slots__ = ("health", "metrics", "request")

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.metrics = request.app[METRICS]
        self.health = request.app[PROVIDER_HEALTH]

    def settle(
        self, provider_id: str, model: str, outcome: UpstreamOutcome, started: float
    ) -> None:
        """One attempt is over: its latency, its outcome, and what the breaker learns."""
        seconds = time.perf_counter() - started
        add_upstream_wait(self.request, seconds)
        self.metrics.record_upstream(provider_id, model, outcome, seconds)
        self.health.record_traffic(provider_id, outcome in HEALTHY_OUTCOMES)


def _unreachable_outcome(exc: UpstreamFailure) -> UpstreamOutcome:
    return "timeout" if exc.timed_out else "connection_error"


async def complete(
    request: web.Request,
    candidates: list[Candidate],
    build: BuildRequest,
    parse: ParseAnswer,
) -> web.Response:
    """A non-streaming call: the first good answer, normalized, as one JSON response."""
    app = request.app
    upstream = app[UPSTREAM]
    attempts = _Attempts(request)
    last: GatewayError | None = None
    for candidate in candidates[: app[SETTINGS].routing.max_attempts]:
        provider = candidate.provider
        model = candidate.upstream_model
        adapter = ADAPTERS.get(provider.adapter)
        if adapter is None:
            last = _no_adapter(provider)
            continue
        started = time.perf_counter()
        try:
            response = await upstream.send(build(adapter, candidate), provider.timeout_s)
        except UpstreamFailure as exc:
            attempts.settle(provider.id, model, _unreachable_outcome(exc), started)
            last = upstream_error(provider.id, exc)
            continue
        try:
            payload = await response.read()
        except UpstreamFailure as exc:
            attempts.settle(provider.id, model, _unreachable_outcome(exc), started)
            last = upstream_error(provider.id, exc)
            continue
        finally:
            response.close()
        status = response.status
        if status >= 400:
            attempts.settle(provider.id, model, outcome_for_status(status), started)
            error = _answered_error(adapter, provider, status, payload, response.headers)
            if retryable(status):
                last = error
                continue
            raise error
        try:
            answer = parse(adapter, payload)
        except UpstreamError as exc:
            attempts.settle(provider.id, model, "server_error", started)
            exc.headers.setdefault("X-Gateway-Provider", provider.id)
            last = exc
            continue
        attempts.settle(provider.id, model, "ok", started)
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
    """A streaming chat call relayed as SSE, ending in ``data: [DONE]`` or an error event.

    Until the first data chunk the call may still fall back to the next candidate;
    if that takes longer than the keep-alive interval, the SSE response is
    committed and ``: keep-alive`` comments hold the connection open meanwhile.
    """
    app = request.app
    settings = app[SETTINGS]
    attempts = _Attempts(request)
    call = _Call(request, settings.upstream.keepalive_interval_s)
    last: GatewayError | None = None
    for candidate in candidates[: settings.routing.max_attempts]:
        adapter = ADAPTERS.get(candidate.provider.adapter)
        if adapter is None:
            last = _no_adapter(candidate.provider)
            continue
        try:
            return await _stream_from(call, attempts, candidate, adapter, body, raw, params)
        except _Failed as failed:
            last = failed.error
            if not failed.retry:
                break
        except ConnectionResetError:
            if call.sse is None:
                raise
            return call.sse  # the client went away during a keep-alive comment
        except GatewayError as exc:  # e.g. a body this candidate's adapter cannot translate
            if call.sse is None:
                raise
            last = exc
            break
    assert last is not None, "the router never returns an empty candidate list"
    if call.sse is None:
        raise last
    await _end_with_error(call.sse, last)
    return call.sse


class _Failed(Exception):
    """One candidate failed before any data reached the client."""

    def __init__(self, error: GatewayError, *, retry: bool = True) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry = retry


class _Call:
    """The client side of one streaming call: its SSE response once committed, keep-alive clock."""

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


async def _stream_from(
    call: _Call,
    attempts: _Attempts,
    candidate: Candidate,
    adapter: Adapter,
    body: JSON,
    raw: bytes,
    params: ChatParams,
) -> web.StreamResponse:
    """Stream one candidate's answer; ``_Failed`` if it fails before the first data chunk."""
    upstream = call.request.app[UPSTREAM]
    provider = candidate.provider
    model = candidate.upstream_model
    outgoing = adapter.build_chat(provider.target, body, raw, model, True)
    usage: list[StreamUsage] = []
    served = False
    outcome: UpstreamOutcome = "cancelled"
    started = time.perf_counter()
    try:
        try:
            response = await call.wait(upstream.send(outgoing, provider.timeout_s, stream=True))
        except UpstreamFailure as exc:
            outcome = _unreachable_outcome(exc)
            raise _Failed(upstream_error(provider.id, exc)) from None
        try:
            status = response.status
            if status >= 400 or response.content_type == "application/json":
                try:
                    payload = await call.wait(response.read())
                except UpstreamFailure as exc:
                    outcome = _unreachable_outcome(exc)
                    raise _Failed(upstream_error(provider.id, exc)) from None
                if status >= 400:
                    outcome = outcome_for_status(status)
                    error = _answered_error(adapter, provider, status, payload, response.headers)
                    raise _Failed(error, retry=retryable(status))
                # An upstream that ignored ``stream: true``: its whole answer, told as chunks.
                try:
                    answer = adapter.parse_chat(payload, params.model)
                except UpstreamError as exc:
                    outcome = "server_error"
                    raise _Failed(_unusable(adapter, provider, payload, exc)) from None
                usage.append(_usage_of(answer))
                served = True
                sse = await call.commit(answer_headers(response.headers, provider.id))
                attempts.metrics.observe_ttft(provider.id, model, time.perf_counter() - started)
                with contextlib.suppress(ConnectionResetError):
                    await sse.write(completion_chunks(answer, params.include_usage) + DONE_EVENT)
                    outcome = "ok"
                return sse
            chunks = adapter.stream_chat(
                iter_data(response.iter_chunks()), params.model, params.include_usage, usage
            )
            try:
                with attempts.metrics.stream_active():
                    try:
                        first = await call.wait(_next(chunks))
                    except ConnectionResetError:
                        raise  # the client went away during a keep-alive comment
                    except Exception as exc:
                        outcome = _failure_outcome(exc)
                        raise _Failed(_early_failure(provider, exc)) from None
                    served = True
                    sse = await call.commit(answer_headers(response.headers, provider.id))
                    if first is not None:
                        attempts.metrics.observe_ttft(
                            provider.id, model, time.perf_counter() - started
                        )
                    outcome = await _relay(sse, first, chunks, provider.id)
                    return sse
            finally:
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
        finally:
            # Drops the upstream connection unless the body was read to its end.
            response.close()
    finally:
        attempts.settle(provider.id, model, outcome, started)
        if served or usage:
            seen = combined(usage) if usage else StreamUsage()
            on_usage(call.request, provider.id, model, seen)


async def _next(chunks: AsyncIterator[bytes]) -> bytes | None:
    """The next chunk, or None at the end."""
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return None


def _unusable(
    adapter: Adapter, provider: LiveProvider, payload: bytes, exc: UpstreamError
) -> UpstreamError:
    """A 200 JSON body that is no chat completion: its error message when it carries one."""
    message = adapter.parse_error(200, payload) if b'"error"' in payload else exc.message
    return UpstreamError(
        f"Provider '{provider.id}' sent no usable answer: {message}",
        headers={"X-Gateway-Provider": provider.id},
    )


def _failure_outcome(exc: BaseException) -> UpstreamOutcome:
    if isinstance(exc, UpstreamFailure):
        return _unreachable_outcome(exc)
    return "server_error"


def _early_failure(provider: LiveProvider, exc: BaseException) -> GatewayError:
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


async def _relay(
    sse: web.StreamResponse, first: bytes | None, chunks: AsyncIterator[bytes], provider_id: str
) -> UpstreamOutcome:
    """Write every chunk as it comes, then ``[DONE]``; a failure ends with an error event."""
    try:
        if first is not None:
            await sse.write(first)
            async for chunk in chunks:
                await sse.write(chunk)
        await sse.write(DONE_EVENT)
        return "ok"
    except ConnectionResetError:
        return "cancelled"  # the client went away; the caller closes the upstream response
    except UpstreamFailure as exc:
        await _end_with_error(sse, upstream_error(provider_id, exc))
        return _unreachable_outcome(exc)
    except GatewayError as exc:
        await _end_with_error(sse, exc)
        return "server_error"
    except Exception as exc:
        # An adapter bug must still end the stream cleanly rather than leave it hanging.
        logger.exception("stream relay failed")
        await _end_with_error(sse, exc)
        return "server_error"


def _stream_error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, GatewayError):
        return exc.body()
    return error_body(
        "Internal error while relaying the stream.", "server_error", None, "internal_error"
    )


async def _end_with_error(sse: web.StreamResponse, exc: BaseException) -> None:
    with contextlib.suppress(ConnectionResetError):
        await sse.write(b"data: " + orjson.dumps(_stream_error(exc)) + b"\n\n")
