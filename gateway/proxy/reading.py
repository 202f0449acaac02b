"""The upstream side of a stream: its body as chat chunks (through the adapter) or native events."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Final

from gateway.adapters.base import Adapter, StreamUsage
from gateway.adapters.sse import iter_data, iter_events
from gateway.client_format import ClientFormat
from gateway.security.redaction import mask_secrets
from gateway.transport import UpstreamResponse
from gateway.validation import ChatParams

_ERROR: Final = b"error"
"""In a native event (``event: error`` or an ``"error"`` field): worth masking."""


def chat_chunks(
    response: UpstreamResponse,
    adapter: Adapter,
    params: ChatParams,
    usage: list[StreamUsage],
    max_event_bytes: int,
) -> AsyncGenerator[bytes, None]:
    """An upstream stream's ``data`` payloads, told by the adapter as OpenAI chunk events."""
    events = iter_data(response.iter_chunks(), max_event_bytes)
    return adapter.stream_chat(events, params.model, params.include_usage, usage)


async def native_events(
    response: UpstreamResponse, fmt: ClientFormat, usage: list[StreamUsage], max_event_bytes: int
) -> AsyncGenerator[bytes, None]:
    """A native stream's whole events, shown to the format (for usage) before they are relayed.

    An error event may echo the provider key: it is masked like every error message.
    """
    async for block in iter_events(response.iter_chunks(), max_event_bytes):
        fmt.watch_native(block, usage)
        yield mask_secrets(block.decode("utf-8", "replace")).encode() if _ERROR in block else block


async def with_first(
    first: bytes | None, rest: AsyncIterator[bytes]
) -> AsyncGenerator[bytes, None]:
    """The chunk already read, then the rest of the stream."""
    if first is not None:
        yield first
        async for chunk in rest:
            yield chunk


async def next_chunk(chunks: AsyncIterator[bytes]) -> bytes | None:
    """The next chunk, or None at the end."""
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return None
