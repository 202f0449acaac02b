"""Helpers for adapter tests: feed payloads, read the OpenAI chunks back, rebuild a message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson
from aiohttp import ClientResponse, ClientSession

from gateway.adapters.base import Adapter, StreamUsage, UpstreamRequest
from gateway.adapters.sse import SSEDecoder, iter_data


async def payloads(items: Iterable[bytes]) -> AsyncIterator[bytes]:
    for item in items:
        yield item


def events_of(stream: bytes) -> list[Any]:
    """Every ``data:`` payload of an OpenAI SSE byte string, decoded."""
    return [orjson.loads(payload) for payload in SSEDecoder().feed(stream)]


async def run_stream(
    adapter: Adapter,
    items: Iterable[bytes],
    model: str = "client-model",
    include_usage: bool = True,
) -> tuple[bytes, list[StreamUsage]]:
    usage: list[StreamUsage] = []
    out = b"".join(
        [chunk async for chunk in adapter.stream_chat(payloads(items), model, include_usage, usage)]
    )
    return out, usage


def assemble(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Rebuild the message a client would, keying tool-call fragments by index."""
    content, reasoning = "", ""
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            delta = choice["delta"]
            content += delta.get("content") or ""
            reasoning += delta.get("reasoning_content") or ""
            for fragment in delta.get("tool_calls") or ():
                call = calls.setdefault(
                    fragment["index"], {"id": None, "name": None, "arguments": ""}
                )
                if fragment.get("id"):
                    call["id"] = fragment["id"]
                function = fragment.get("function") or {}
                if function.get("name"):
                    call["name"] = function["name"]
                call["arguments"] += function.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    return {
        "content": content,
        "reasoning": reasoning,
        "tool_calls": [calls[i] for i in sorted(calls)],
        "finish_reason": finish,
    }


def opened(
    session: ClientSession, request: UpstreamRequest
) -> AbstractAsyncContextManager[ClientResponse]:
    """``request`` sent as the gateway's client would (headers, body and query as built)."""
    return session.request(
        request.method,
        request.url,
        headers=request.headers,
        data=request.body,
        params=request.params,
    )


async def send(session: ClientSession, request: UpstreamRequest) -> tuple[int, bytes]:
    async with opened(session, request) as response:
        return response.status, await response.read()


async def send_stream(
    session: ClientSession, adapter: Adapter, request: UpstreamRequest, include_usage: bool = True
) -> tuple[bytes, list[StreamUsage]]:
    usage: list[StreamUsage] = []
    async with opened(session, request) as response:
        assert response.status == 200, await response.read()
        data = iter_data(response.content.iter_any())
        out = b"".join(
            [c async for c in adapter.stream_chat(data, "client-model", include_usage, usage)]
        )
    return out, usage
