"""Streaming calls: the candidates in order until one streams, relayed to the client as SSE.

A candidate may be left for the next until its first data chunk; after that
the stream is the client's (see ``relay``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiohttp import web

from gateway.adapters import ADAPTERS
from gateway.adapters.base import JSON, Adapter, StreamUsage
from gateway.client_format import ClientFormat, chunk_objects
from gateway.errors import GatewayError, UpstreamError
from gateway.keys.policy import permitted
from gateway.metrics import UpstreamOutcome, outcome_for_status
from gateway.providers.live import LiveProvider
from gateway.providers.router import Candidate
from gateway.proxy.answers import (
    ChatRequest,
    answer_headers,
    answered_error,
    early_failure,
    failure_outcome,
    format_of,
    native_request,
    no_adapter,
    retryable,
    unreachable_outcome,
    unusable,
    usage_of,
    with_adjusted,
)
from gateway.proxy.attempts import Attempts
from gateway.proxy.client_stream import ClientStream
from gateway.proxy.drain import cut_by_shutdown, in_flight, shutting_down
from gateway.proxy.reading import chat_chunks, native_events, next_chunk, with_first
from gateway.proxy.relay import end_with_error, relay, relay_answer, relay_events
from gateway.state import SETTINGS
from gateway.transport import UpstreamResponse
from gateway.upstream import UPSTREAM, UpstreamFailure, upstream_error
from gateway.usage import combined
from gateway.validation import ChatParams


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
    call = ClientStream(request, request.app[SETTINGS].server.sse_comment_interval_s)
    lifecycle, task = in_flight(request)
    try:
        return await _stream_candidates(call, candidates, chat, fmt)
    except asyncio.CancelledError:
        if not cut_by_shutdown(lifecycle):
            raise
        if call.sse is None:
            raise shutting_down() from None
        await end_with_error(call.sse, shutting_down(), fmt)
        return call.sse
    finally:
        lifecycle.in_flight.discard(task)


async def _stream_candidates(
    call: ClientStream,
    candidates: list[Candidate],
    chat: ChatRequest | None,
    fmt: ClientFormat | None,
) -> web.StreamResponse:
    """``_stream``'s work: candidates in order until one streams or a failure is final."""
    request = call.request
    settings = request.app[SETTINGS]
    adapters = request.app[ADAPTERS]
    attempts = Attempts(request, streamed=True)
    last: GatewayError | None = None
    candidates = permitted(request, candidates)
    for candidate in candidates[: settings.routing.max_attempts]:
        adapter = adapters.get(candidate.provider.adapter)
        if adapter is None:
            last = no_adapter(candidate.provider)
            continue
        try:
            return await _stream_from(call, attempts, candidate, adapter, chat, fmt)
        except Failed as failed:
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
    await end_with_error(call.sse, last, fmt)
    return call.sse


class Failed(Exception):
    """One candidate failed before any data reached the client; the attempt's outcome."""

    def __init__(self, error: GatewayError, outcome: UpstreamOutcome, *, retry: bool = True):
        super().__init__(error.message)
        self.error = error
        self.outcome = outcome
        self.retry = retry


async def _stream_from(
    call: ClientStream,
    attempts: Attempts,
    candidate: Candidate,
    adapter: Adapter,
    chat: ChatRequest | None,
    fmt: ClientFormat | None,
) -> web.StreamResponse:
    """Stream one candidate's answer; ``Failed`` if it fails before the first data chunk.

    On the way out the active-stream gauge, the chunk generator and the upstream
    response (its connection dropped unless read to the end) close in that order;
    then the attempt is settled and its usage recorded. (Plain context managers:
    an AsyncExitStack cost 2 % of a stream's instructions.)
    """
    app = call.request.app
    provider = candidate.provider
    model = candidate.upstream_model
    native = None if fmt is None else fmt.native_path(provider.target.paths)
    if native is None:
        body, raw, params = chat if chat is not None else format_of(fmt).chat_request()
        outgoing = adapter.build_chat(provider.target, body, raw, model, True)
    else:
        outgoing = native_request(provider.target, native, format_of(fmt), model)
    usage: list[StreamUsage] = []
    served = False
    outcome: UpstreamOutcome = "cancelled"
    started = time.perf_counter()
    try:
        sent = app[UPSTREAM].send(outgoing, provider.timeout_s, stream=True, proxy=provider.proxy)
        try:
            response = await call.wait(sent)
        except UpstreamFailure as exc:
            raise Failed(upstream_error(provider.id, exc), unreachable_outcome(exc)) from None
        with contextlib.closing(response):
            if response.status >= 400 or response.content_type == "application/json":
                # An upstream that ignored ``stream: true``: its whole answer, told as chunks.
                payload = await _json_answer(call, adapter, provider, response, native)
                try:
                    answer = adapter.parse_chat(payload, params.model)
                except UpstreamError as exc:
                    error = unusable(adapter, provider, payload, exc)
                    raise Failed(error, "server_error") from None
                usage.append(usage_of(answer))
                sse = await call.commit(
                    with_adjusted(answer_headers(response.headers, provider.id), outgoing)
                )
                attempts.first_chunk(provider.id, model, started)
                outcome = await relay_answer(sse, answer, params.include_usage, fmt, usage)
                return sse
            cap = app[SETTINGS].upstream.max_event_bytes
            chunks = (
                chat_chunks(response, adapter, params, usage, cap)
                if native is None
                else native_events(response, format_of(fmt), usage, cap)
            )
            async with contextlib.aclosing(chunks):
                with attempts.metrics.stream_active():
                    try:
                        first = await call.wait(next_chunk(chunks))
                    except ConnectionResetError:
                        raise  # the client went away during a keep-alive comment
                    except Exception as exc:
                        raise Failed(early_failure(provider, exc), failure_outcome(exc)) from None
                    served = True
                    sse = await call.commit(
                        with_adjusted(answer_headers(response.headers, provider.id), outgoing)
                    )
                    if first is not None:
                        attempts.first_chunk(provider.id, model, started)
                    if fmt is None:
                        outcome = await relay(sse, first, chunks)
                    elif native is not None:
                        outcome = await relay_events(sse, with_first(first, chunks), fmt)
                    else:
                        events = fmt.events(chunk_objects(first, chunks), usage)
                        outcome = await relay_events(sse, events, fmt)
                    return sse
    except Failed as failed:
        outcome = failed.outcome
        raise
    finally:
        attempts.settle(provider.id, model, outcome, started)
        if served or usage:
            seen = combined(usage) if usage else StreamUsage()
            attempts.used(provider.id, model, seen)


async def _json_answer(
    call: ClientStream,
    adapter: Adapter,
    provider: LiveProvider,
    response: UpstreamResponse,
    native: str | None,
) -> bytes:
    """The body of a JSON answer to a stream request: ``Failed`` when it is an error answer,
    or when a native stream was asked for; else (a chat upstream) its bytes."""
    status = response.status
    try:
        payload = await call.wait(response.read())
    except UpstreamFailure as exc:
        raise Failed(upstream_error(provider.id, exc), unreachable_outcome(exc)) from None
    if status >= 400:
        error = answered_error(adapter, provider, status, payload, response.headers)
        raise Failed(error, outcome_for_status(status), retry=retryable(status))
    if native is not None:
        message = f"Provider '{provider.id}' answered a stream request with JSON."
        error = UpstreamError(message, headers={"X-Gateway-Provider": provider.id})
        raise Failed(error, "server_error")
    return payload
