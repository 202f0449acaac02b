"""Writing a stream to the client as it comes, and ending a broken one with an error event.

Once the first chunk went out there is no falling back: a failure ends the
stream with one final error event (never a hang, never half an event).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Final

import orjson
from aiohttp import web

from gateway.adapters.base import JSON, StreamUsage
from gateway.adapters.shapes import completion_chunk_objects, completion_chunks
from gateway.client_format import ClientFormat, listed
from gateway.errors import GatewayError, error_body
from gateway.metrics import UpstreamOutcome
from gateway.proxy.answers import unreachable_outcome
from gateway.upstream import UpstreamFailure, upstream_error

logger = logging.getLogger("gateway.proxy")

DONE_EVENT: Final = b"data: [DONE]\n\n"


async def relay(
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
        return await broken(sse, exc, None)


async def relay_events(
    sse: web.StreamResponse, events: AsyncGenerator[bytes, None], fmt: ClientFormat
) -> UpstreamOutcome:
    """``relay`` for a format: its events as they come (its own terminal, no ``[DONE]``)."""
    async with contextlib.aclosing(events):
        try:
            async for event in events:
                await sse.write(event)
            return "ok"
        except ConnectionResetError:
            return "cancelled"
        except Exception as exc:
            return await broken(sse, exc, fmt)


async def relay_answer(
    sse: web.StreamResponse,
    answer: JSON,
    include_usage: bool,
    fmt: ClientFormat | None,
    usage: list[StreamUsage],
) -> UpstreamOutcome:
    """A whole chat.completion (from an upstream that ignored ``stream: true``) told as chunks."""
    if fmt is not None:
        told = listed(completion_chunk_objects(answer, include_usage))
        return await relay_events(sse, fmt.events(told, usage), fmt)
    try:
        await sse.write(completion_chunks(answer, include_usage) + DONE_EVENT)
    except ConnectionResetError:
        return "cancelled"
    return "ok"


async def broken(
    sse: web.StreamResponse, exc: Exception, fmt: ClientFormat | None
) -> UpstreamOutcome:
    """End a committed stream that failed with one error event; the attempt's outcome."""
    outcome: UpstreamOutcome
    if isinstance(exc, UpstreamFailure):
        outcome = unreachable_outcome(exc)
    else:
        outcome = "server_error"
        if not isinstance(exc, GatewayError):
            # An adapter bug must still end the stream cleanly rather than leave it hanging.
            logger.exception("stream relay failed", exc_info=exc)
    await end_with_error(sse, exc, fmt)
    return outcome


def _stream_error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, GatewayError):
        return exc.body()
    if isinstance(exc, UpstreamFailure):
        return upstream_error(None, exc).body()
    return error_body(
        "Internal error while relaying the stream.", "server_error", None, "internal_error"
    )


async def end_with_error(
    sse: web.StreamResponse, exc: BaseException, fmt: ClientFormat | None = None
) -> None:
    """Write the stream's last event: the error in OpenAI's shape or the format's."""
    error = _stream_error(exc)
    event = b"data: " + orjson.dumps(error) + b"\n\n" if fmt is None else fmt.error_event(error)
    with contextlib.suppress(ConnectionResetError):
        await sse.write(event)
