"""Non-streaming calls: the candidates in order until one answers, as one JSON response."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import orjson
from aiohttp import web

from gateway.adapters import ADAPTERS
from gateway.adapters.base import JSON, Adapter, UpstreamRequest
from gateway.client_format import ClientFormat
from gateway.errors import GatewayError, UpstreamError
from gateway.keys.policy import permitted
from gateway.metrics import outcome_for_status
from gateway.providers.router import Candidate
from gateway.proxy.answers import (
    answer_headers,
    answered_error,
    format_of,
    native_request,
    no_adapter,
    retryable,
    unreachable_outcome,
    usage_of,
    with_adjusted,
)
from gateway.proxy.attempts import Attempts
from gateway.proxy.drain import cut_by_shutdown, in_flight, shutting_down
from gateway.state import SETTINGS
from gateway.upstream import UPSTREAM, UpstreamFailure, upstream_error

BuildRequest = Callable[[Adapter, Candidate], UpstreamRequest]
ParseAnswer = Callable[[Adapter, bytes], JSON]


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
    lifecycle, task = in_flight(request)
    try:
        app = request.app
        upstream = app[UPSTREAM]
        adapters = app[ADAPTERS]
        attempts = Attempts(request)
        last: GatewayError | None = None
        candidates = permitted(request, candidates)
        for candidate in candidates[: app[SETTINGS].routing.max_attempts]:
            provider = candidate.provider
            model = candidate.upstream_model
            adapter = adapters.get(provider.adapter)
            if adapter is None:
                last = no_adapter(provider)
                continue
            native = None if fmt is None else fmt.native_path(provider.target.paths)
            if native is None:
                outgoing = build(adapter, candidate)
            else:
                outgoing = native_request(provider.target, native, format_of(fmt), model)
            started = time.perf_counter()
            try:
                response = await upstream.send(outgoing, provider.timeout_s, proxy=provider.proxy)
            except UpstreamFailure as exc:
                attempts.settle(provider.id, model, unreachable_outcome(exc), started)
                last = upstream_error(provider.id, exc)
                continue
            try:
                payload = await response.read()
            except UpstreamFailure as exc:
                attempts.settle(provider.id, model, unreachable_outcome(exc), started)
                last = upstream_error(provider.id, exc)
                continue
            finally:
                response.close()
            status = response.status
            if status >= 400:
                attempts.settle(provider.id, model, outcome_for_status(status), started)
                error = answered_error(adapter, provider, status, payload, response.headers)
                if retryable(status):
                    last = error
                    continue
                raise error
            try:
                answer = (
                    parse(adapter, payload)
                    if native is None
                    else format_of(fmt).native_answer(payload)
                )
            except UpstreamError as exc:
                attempts.settle(provider.id, model, "server_error", started)
                exc.headers.setdefault("X-Gateway-Provider", provider.id)
                last = exc
                continue
            attempts.settle(provider.id, model, "ok", started)
            if native is None:
                attempts.used(provider.id, model, usage_of(answer))
                if fmt is not None:
                    answer = fmt.answer(answer)
            else:
                attempts.used(provider.id, model, format_of(fmt).native_usage(answer))
            return web.Response(
                body=orjson.dumps(answer),
                content_type="application/json",
                headers=with_adjusted(answer_headers(response.headers, provider.id), outgoing),
            )
        assert last is not None, "the router never returns an empty candidate list"
        raise last
    except asyncio.CancelledError:
        if not cut_by_shutdown(lifecycle):
            raise
        raise shutting_down() from None
    finally:
        lifecycle.in_flight.discard(task)
