"""The hook that lets a route speak its own API to clients over the chat pipeline.

A route such as ``/v1/responses`` or ``/v1/messages`` hands the proxy a
per-request ``ClientFormat`` (``proxy.complete_as`` / ``proxy.stream_as``). The
proxy then does everything it does for chat (routing, fallback, keep-alives,
metrics, usage hooks) and, per candidate, either

* translates: sends the format's chat body through the provider's adapter and
  lets the format turn the normalized ``chat.completion`` (or the stream of
  ``chat.completion.chunk`` objects) into the client's answer; or
* passes through natively: when ``native_path`` names a path of the provider's
  template (``TemplatePaths.responses``, ``TemplatePaths.messages``), the
  client's body goes there untouched but for ``model``, and stream bytes are
  relayed event by event as they come.

The plain chat route passes no format and pays nothing for this.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from typing import Protocol

import orjson

from gateway.adapters.base import JSON, StreamUsage, TemplatePaths
from gateway.errors import UpstreamError, error_body
from gateway.validation import ChatParams


class ClientFormat(Protocol):
    """One request's client-facing format; may keep state (ids, sequence numbers, the result)."""

    def native_path(self, paths: TemplatePaths) -> str | None:
        """The provider's template path that speaks this format itself, or None to translate."""

    def native_headers(self) -> Mapping[str, str]:
        """Client headers a native upstream gets too (over the template's); usually none."""

    def native_body(self, upstream_model: str) -> bytes:
        """The client's body for a native upstream, with ``model`` set to ``upstream_model``."""

    def native_answer(self, payload: bytes) -> JSON:
        """A native upstream's success body as the client's answer; UpstreamError if unusable."""

    def native_usage(self, answer: JSON) -> StreamUsage:
        """Token usage inside a native answer (for metrics, limits and the usage hooks)."""

    def watch_native(self, events: bytes, usage: list[StreamUsage]) -> None:
        """See complete native SSE events before they are relayed; append usage found in them."""

    def chat_request(self) -> tuple[JSON, bytes, ChatParams]:
        """The chat body (object and bytes) for translated providers; InvalidRequest if none.

        Called only when a translated candidate is tried; ``params.include_usage``
        should be true so that streamed usage reaches the format and the hooks.
        """

    def answer(self, completion: JSON) -> JSON:
        """A normalized ``chat.completion`` (model as the client named it) -> the client's JSON."""

    def events(
        self, chunks: AsyncIterator[JSON], usage: list[StreamUsage]
    ) -> AsyncGenerator[bytes, None]:
        """``chat.completion.chunk`` objects -> the client's SSE bytes, its terminal event included.

        ``usage`` is the adapter's running usage (cached and reasoning tokens too).
        A failure of the upstream stream surfaces as an exception from ``chunks``
        (an upstream error event as GatewayError): let it propagate, the proxy then
        writes ``error_event``.
        """

    def error_event(self, error: JSON) -> bytes:
        """The SSE bytes that end a failed stream; ``error`` is OpenAI's ``{"error": {...}}``."""


async def chunk_objects(
    first: bytes | None, rest: AsyncIterator[bytes]
) -> AsyncGenerator[JSON, None]:
    """An adapter's ``data: {...}`` chat chunk bytes as objects; an error event raises."""
    if first is None:
        return
    for event in _split(first):
        yield _chunk(event)
    async for data in rest:
        for event in _split(data):
            yield _chunk(event)


async def listed(chunks: Iterable[JSON]) -> AsyncGenerator[JSON, None]:
    """Chunks already in hand (an upstream that ignored ``stream``) as an async iterator."""
    for chunk in chunks:
        yield chunk


def _split(data: bytes) -> list[bytes]:
    """The JSON payloads of one or more ``data: ...\\n\\n`` events."""
    if data.count(b"\n\n") == 1:
        return [data[6:-2]]
    return [event[6:] for event in data.split(b"\n\n") if event.startswith(b"data: ")]


def _chunk(payload: bytes) -> JSON:
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise UpstreamError("upstream sent malformed JSON in a stream event") from None
    if not isinstance(value, dict):
        raise UpstreamError("upstream sent a non-object stream event")
    error = value.get("error")
    if error is not None:
        raise StreamErrorEvent(error)
    return value


class StreamErrorEvent(UpstreamError):
    """An upstream's in-stream error event, its message, type and code kept for the client."""

    def __init__(self, error: object) -> None:
        detail = error if isinstance(error, dict) else {}
        message = detail.get("message")
        code = detail.get("code")
        super().__init__(
            message if isinstance(message, str) and message else "The provider reported an error.",
            code=code if isinstance(code, str) else None,
        )
        kind = detail.get("type")
        self.kind = kind if isinstance(kind, str) and kind else self.type

    def body(self) -> JSON:
        return error_body(self.message, self.kind, None, self.code)
