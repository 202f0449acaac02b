"""Send a request to the first candidate that answers, and relay its answer.

Fallback: a candidate that cannot be reached, times out, or answers 429 or 5xx
before anything reached the client is followed by the next one (up to
``routing.max_attempts``). Other 4xx answers go back to the client in OpenAI's
error shape with the upstream's message and status. A stream may fall back
until its first data chunk, even after a keep-alive comment committed the SSE
response; from then on a failure ends it with one final ``data: {"error": ...}``
event (never a hang, never half an event).

Routes that speak another API to their clients (``/v1/responses``,
``/v1/messages``) use ``complete_as`` and ``stream_as`` with a ``ClientFormat``
(gateway/client_format.py): same pipeline, their own answers, events and error
events, and a native pass-through for providers that speak their API.
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
from gateway.adapters.base import JSON, Adapter, StreamUsage, Target, UpstreamRequest
from gateway.adapters.shapes import completion_chunk_objects, completion_chunks
from gateway.adapters.sse import iter_data, iter_events
from gateway.client_format import ClientFormat, chunk_objects, listed
from gateway.errors import (
    OVERLOADED,
    GatewayError,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
    error_body,
    error_class_for,
)
from gateway.health.state import PROVIDER_HEALTH
from gateway.keys.policy import permitted
from gateway.metrics import METRICS, UpstreamOutcome, add_upstream_wait, outcome_for_status
from gateway.providers.live import LiveProvider
from gateway.providers.router import Candidate
from gateway.security.redaction import mask_secrets
from gateway.state import LIFECYCLE, SETTINGS, Lifecycle
from gateway.upstream import UPSTREAM, UpstreamFailure, upstream_error
from gateway.usage import FACTS, RequestFacts, combined, on_usage
from gateway.validation import ChatParams

logger = logging.getLogger("gateway.proxy")

KEEPALIVE: Final = b": keep-alive\n\n"
ADJUSTED_HEADER: Final = "X-Gateway-Adjusted"
_ERROR: Final = b"error"
"""In a native event (``event: error`` or an ``"error"`` field): worth masking."""
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
            f"Provider '{provider.id}' failed ({status}): {message}",
            code=OVERLOADED if status == 529 else None,
            headers=passed,
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
    """Per-request bookkeeping of upstream attempts: metrics, upstream wait, passive health.

    Also the request's RequestFacts, which the ledger reads when the answer is over.
    """

    __slots__ = ("facts", "health", "metrics", "request")

    def __init__(self, request: web.Request, *, streamed: bool = False) -> None:
        self.request = request
        self.metrics = request.app[METRICS]
        self.health = request.app[PROVIDER_HEALTH]
        self.facts = request[FACTS] = RequestFacts(streamed=streamed)

    def first_chunk(self, provider_id: str, model: str, started: float) -> None:
        """The answer's first chunk is ready to go to the client: time to first token."""
        seconds = time.perf_counter() - started
        self.facts.ttft = seconds
        self.metrics.observe_ttft(provider_id, model, seconds)

    def settle(
        self, provider_id: str, model: str, outcome: UpstreamOutcome, started: float
    ) -> None:
        """One attempt is over: its latency, its outcome, and what the breaker learns."""
        seconds = time.perf_counter() - started
        facts = self.facts
        facts.attempts += 1
        facts.provider = provider_id
        facts.model = model
        add_upstream_wait(self.request, seconds)
        self.metrics.record_upstream(provider_id, model, outcome, seconds)
        self.health.record_traffic(provider_id, outcome in HEALTHY_OUTCOMES)


def _unreachable_outcome(exc: UpstreamFailure) -> UpstreamOutcome:
    return "timeout" if exc.timed_out else "connection_error"


def _native_request(target: Target, path: str, fmt: ClientFormat, model: str) -> UpstreamRequest:
    """A format's body (and client headers it forwards) for a provider that speaks it itself."""
    extra = fmt.native_headers()
    headers = {**target.json_headers, **extra} if extra else target.json_headers
    return UpstreamRequest(
        "POST", target.url(path, model), headers, fmt.native_body(model), target.query
    )


def _chat_of(fmt: ClientFormat | None) -> ChatRequest:
    assert fmt is not None, "a chat call always has its chat request"
    return fmt.chat_request()


async def complete_as(
    request: web.Request, candidates: list[Candidate], fmt: ClientFormat
) -> web.Response:
    """``complete`` for a route with its own format: native or translated per candidate."""

    def build(adapter: Adapter, candidate: Candidate) -> UpstreamRequest:
        body, raw, _ = fmt.chat_request()
        return adapter.build_chat(
            candidate.provider.target, body, raw, candidate.upstream_model, False
        )

    def parse(adapter: Adapter, payload: bytes) -> JSON:
        return adapter.parse_chat(payload, fmt.chat_request()[2].model)

    return await complete(request, candidates, build, parse, fmt)


async def complete(
    request: web.Request,
    candidates: list[Candidate],
    build: BuildRequest,
    parse: ParseAnswer,
    fmt: ClientFormat | None = None,
) -> web.Response:
    """A non-streaming call: the first good answer, normalized, as one JSON response.

    With ``fmt`` (see ``complete_as``) a candidate whose template has the format's
    native path gets the client's body there; the others go through ``build`` and
    ``parse``, and ``fmt.answer`` reshapes their chat.completion. One frame with the
    drain's bookkeeping around the candidates: a coroutine less per request.
    """
    lifecycle, task = _in_flight(request)
    try:
        app = request.app
        upstream = app[UPSTREAM]
        attempts = _Attempts(request)
        last: GatewayError | None = None
        candidates = permitted(request, candidates)
        for candidate in candidates[: app[SETTINGS].routing.max_attempts]:
            provider = candidate.provider
            model = candidate.upstream_model
            adapter = ADAPTERS.get(provider.adapter)
            if adapter is None:
                last = _no_adapter(provider)
                continue
            native = None if fmt is None else fmt.native_path(provider.target.paths)
            if native is None:
                outgoing = build(adapter, candidate)
            else:
                outgoing = _native_request(provider.target, native, _format(fmt), model)
            started = time.perf_counter()
            try:
                response = await upstream.send(outgoing, provider.timeout_s, proxy=provider.proxy)
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
                answer = (
                    parse(adapter, payload)
                    if native is None
                    else _format(fmt).native_answer(payload)
                )
            except UpstreamError as exc:
                attempts.settle(provider.id, model, "server_error", started)
                exc.headers.setdefault("X-Gateway-Provider", provider.id)
                last = exc
                continue
            attempts.settle(provider.id, model, "ok", started)
            if fmt is None:
                on_usage(request, provider.id, model, _usage_of(answer))
            elif native is None:
                on_usage(request, provider.id, model, _usage_of(answer))
                answer = fmt.answer(answer)
            else:
                on_usage(request, provider.id, model, fmt.native_usage(answer))
            return web.Response(
                body=orjson.dumps(answer),
                content_type="application/json",
                headers=with_adjusted(answer_headers(response.headers, provider.id), outgoing),
            )
        assert last is not None, "the router never returns an empty candidate list"
        raise last
    except asyncio.CancelledError:
        if not _cut_by_shutdown(lifecycle):
            raise
        raise _shutting_down() from None
    finally:
        lifecycle.in_flight.discard(task)


def _format(fmt: ClientFormat | None) -> ClientFormat:
    assert fmt is not None, "a native path comes from a format"
    return fmt


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
    return await _stream(request, candidates, (body, raw, params), None)


async def stream_as(
    request: web.Request, candidates: list[Candidate], fmt: ClientFormat
) -> web.StreamResponse:
    """``stream`` for a route with its own format: its events, terminal and error events.

    A candidate with the format's native path gets the client's body there and
    its SSE events are relayed as they come (whole events only); the others go
    through the adapter and ``fmt.events`` turns their chat chunks into the
    client's events. Fallback, keep-alives, metrics and usage work as for chat.
    """
    return await _stream(request, candidates, None, fmt)


async def _stream(
    request: web.Request,
    candidates: list[Candidate],
    chat: ChatRequest | None,
    fmt: ClientFormat | None,
) -> web.StreamResponse:
    call = _Call(request, request.app[SETTINGS].server.sse_comment_interval_s)
    lifecycle, task = _in_flight(request)
    try:
        return await _stream_candidates(call, candidates, chat, fmt)
    except asyncio.CancelledError:
        if not _cut_by_shutdown(lifecycle):
            raise
        if call.sse is None:
            raise _shutting_down() from None
        await _end_with_error(call.sse, _shutting_down(), fmt)
        return call.sse
    finally:
        lifecycle.in_flight.discard(task)


def _in_flight(request: web.Request) -> tuple[Lifecycle, asyncio.Task[Any]]:
    """Make the call known to the drain, so it can end it in time (Lifecycle.cut); the
    caller discards the task from ``in_flight`` in a ``finally`` (cheaper than a
    context manager on every request)."""
    lifecycle = request.app[LIFECYCLE]
    task = asyncio.current_task()
    assert task is not None
    lifecycle.in_flight.add(task)
    return lifecycle, task


def _cut_by_shutdown(lifecycle: Lifecycle) -> bool:
    """Whether a cancellation is the drain's cut (then swallowed: the call answers)."""
    if not lifecycle.cutting:
        return False  # the client went away
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
    return True


def _shutting_down() -> ServiceUnavailable:
    """What a call still running when the drain time is up ends with."""
    return ServiceUnavailable(
        "The gateway is shutting down; the answer was cut short. Send the request again.",
        code="server_shutting_down",
    )


async def _stream_candidates(
    call: _Call,
    candidates: list[Candidate],
    chat: ChatRequest | None,
    fmt: ClientFormat | None,
) -> web.StreamResponse:
    """``_stream``'s work: candidates in order until one streams or a failure is final."""
    request = call.request
    settings = request.app[SETTINGS]
    attempts = _Attempts(request, streamed=True)
    last: GatewayError | None = None
    candidates = permitted(request, candidates)
    for candidate in candidates[: settings.routing.max_attempts]:
        adapter = ADAPTERS.get(candidate.provider.adapter)
        if adapter is None:
            last = _no_adapter(candidate.provider)
            continue
        try:
            return await _stream_from(call, attempts, candidate, adapter, chat, fmt)
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
    await _end_with_error(call.sse, last, fmt)
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
    chat: ChatRequest | None,
    fmt: ClientFormat | None,
) -> web.StreamResponse:
    """Stream one candidate's answer; ``_Failed`` if it fails before the first data chunk."""
    upstream = call.request.app[UPSTREAM]
    settings = call.request.app[SETTINGS]
    provider = candidate.provider
    model = candidate.upstream_model
    native = None if fmt is None else fmt.native_path(provider.target.paths)
    if native is None:
        body, raw, params = chat if chat is not None else _chat_of(fmt)
        outgoing = adapter.build_chat(provider.target, body, raw, model, True)
    else:
        outgoing = _native_request(provider.target, native, _format(fmt), model)
    usage: list[StreamUsage] = []
    served = False
    outcome: UpstreamOutcome = "cancelled"
    started = time.perf_counter()
    try:
        try:
            sent = upstream.send(outgoing, provider.timeout_s, stream=True, proxy=provider.proxy)
            response = await call.wait(sent)
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
                if native is not None:
                    outcome = "server_error"
                    message = f"Provider '{provider.id}' answered a stream request with JSON."
                    raise _Failed(
                        UpstreamError(message, headers={"X-Gateway-Provider": provider.id})
                    )
                # An upstream that ignored ``stream: true``: its whole answer, told as chunks.
                try:
                    answer = adapter.parse_chat(payload, params.model)
                except UpstreamError as exc:
                    outcome = "server_error"
                    raise _Failed(_unusable(adapter, provider, payload, exc)) from None
                usage.append(_usage_of(answer))
                served = True
                sse = await call.commit(
                    with_adjusted(answer_headers(response.headers, provider.id), outgoing)
                )
                attempts.first_chunk(provider.id, model, started)
                if fmt is not None:
                    told = listed(completion_chunk_objects(answer, params.include_usage))
                    outcome = await _relay_events(sse, fmt.events(told, usage), fmt)
                    return sse
                with contextlib.suppress(ConnectionResetError):
                    await sse.write(completion_chunks(answer, params.include_usage) + DONE_EVENT)
                    outcome = "ok"
                return sse
            cap = settings.upstream.max_event_bytes
            if native is not None:
                chunks = _watched(iter_events(response.iter_chunks(), cap), _format(fmt), usage)
            else:
                chunks = adapter.stream_chat(
                    iter_data(response.iter_chunks(), cap),
                    params.model,
                    params.include_usage,
                    usage,
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
                    sse = await call.commit(
                        with_adjusted(answer_headers(response.headers, provider.id), outgoing)
                    )
                    if first is not None:
                        attempts.first_chunk(provider.id, model, started)
                    if fmt is None:
                        outcome = await _relay(sse, first, chunks)
                    elif native is not None:
                        outcome = await _relay_events(sse, _with_first(first, chunks), fmt)
                    else:
                        events = fmt.events(chunk_objects(first, chunks), usage)
                        outcome = await _relay_events(sse, events, fmt)
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


async def _watched(
    events: AsyncIterator[bytes], fmt: ClientFormat, usage: list[StreamUsage]
) -> AsyncIterator[bytes]:
    """A native stream's events, shown to the format (for usage) before they are relayed.

    An error event may echo the provider key: it is masked like every error message.
    """
    async for block in events:
        fmt.watch_native(block, usage)
        yield mask_secrets(block.decode("utf-8", "replace")).encode() if _ERROR in block else block


async def _with_first(first: bytes | None, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first is not None:
        yield first
        async for chunk in rest:
            yield chunk


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
    sse: web.StreamResponse, first: bytes | None, chunks: AsyncIterator[bytes]
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
    except Exception as exc:
        return await _broken(sse, exc, None)


async def _relay_events(
    sse: web.StreamResponse, events: AsyncIterator[bytes], fmt: ClientFormat
) -> UpstreamOutcome:
    """``_relay`` for a format: its events as they come (its own terminal, no ``[DONE]``)."""
    try:
        async for event in events:
            await sse.write(event)
        return "ok"
    except ConnectionResetError:
        return "cancelled"
    except Exception as exc:
        return await _broken(sse, exc, fmt)
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


async def _broken(
    sse: web.StreamResponse, exc: Exception, fmt: ClientFormat | None
) -> UpstreamOutcome:
    """End a committed stream that failed with one error event; the attempt's outcome."""
    outcome: UpstreamOutcome
    if isinstance(exc, UpstreamFailure):
        outcome = _unreachable_outcome(exc)
    else:
        outcome = "server_error"
        if not isinstance(exc, GatewayError):
            # An adapter bug must still end the stream cleanly rather than leave it hanging.
            logger.exception("stream relay failed", exc_info=exc)
    await _end_with_error(sse, exc, fmt)
    return outcome


def _stream_error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, GatewayError):
        return exc.body()
    if isinstance(exc, UpstreamFailure):
        return upstream_error(None, exc).body()
    return error_body(
        "Internal error while relaying the stream.", "server_error", None, "internal_error"
    )


async def _end_with_error(
    sse: web.StreamResponse, exc: BaseException, fmt: ClientFormat | None = None
) -> None:
    error = _stream_error(exc)
    event = b"data: " + orjson.dumps(error) + b"\n\n" if fmt is None else fmt.error_event(error)
    with contextlib.suppress(ConnectionResetError):
        await sse.write(event)
