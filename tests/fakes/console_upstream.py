"""A fake OpenAI-compatible upstream: GET /v1/models and (streaming) POST /v1/chat/completions.

It checks the provider key like OpenAI does, streams its answer word by word with a
delay (so a browser can see it arrive progressively), and records what it saw,
including clients that went away mid-stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MODELS = ("fake-mini", "fake-slow")
# Models the console's second-pass tests add (create_upstream(..., extra_models=True)).
MARKDOWN_MODEL = "fake-markdown"
BROKEN_MODEL = "fake-broken"
ANSWER = "The quick brown fox jumps over the lazy dog and keeps running far away."
SLOW_WORDS = 400
REASONING = "The user wants a table and some code; a list of steps makes it longer."
MARKDOWN_ANSWER = (
    "## Results\n\n"
    "| animal | speed |\n| --- | ---: |\n| fox | 50 |\n| dog | 30 |\n\n"
    "```python\ndef fast(animal):\n    return animal.speed > 40  # quick\n```\n\n"
    '<img src="x" onerror="window.__pwned = true">\n\n'
    + "".join(f"{i}. step number {i} of the plan\n" for i in range(1, 31))
    + "\nDone."
)
MARKDOWN_PIECE = 24


@dataclass
class UpstreamLog:
    """What the fake saw; read by tests from another thread, so only appended to."""

    authorizations: list[str] = field(default_factory=list)
    chat_bodies: list[dict[str, Any]] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)


LOG = web.AppKey("log", UpstreamLog)


def _error(status: int, message: str, type_: str, code: str) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return web.json_response(body, status=status)


def _authorized(request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    request.app[LOG].authorizations.append(header)
    return header == f"Bearer {request.app[API_KEY]}"


API_KEY = web.AppKey("api_key", str)
CHUNK_DELAY = web.AppKey("chunk_delay_s", float)
EXTRA_MODELS = web.AppKey("extra_models", bool)


async def models(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _error(
            401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
        )
    names = MODELS + ((MARKDOWN_MODEL, BROKEN_MODEL) if request.app[EXTRA_MODELS] else ())
    data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in names]
    return web.json_response({"object": "list", "data": data})


def _chunk(completion_id: str, model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    payload = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n".encode()


async def chat(request: web.Request) -> web.StreamResponse:
    if not _authorized(request):
        return _error(
            401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
        )
    body = await request.json()
    request.app[LOG].chat_bodies.append(body)
    model = body.get("model")
    if model == BROKEN_MODEL and request.app[EXTRA_MODELS]:
        return _error(400, "This model refuses every question.", "invalid_request_error", "refused")
    if model == MARKDOWN_MODEL and request.app[EXTRA_MODELS]:
        return await _markdown(request, body)
    if model not in MODELS:
        return _error(
            404, f"The model `{model}` does not exist.", "invalid_request_error", "model_not_found"
        )
    words = ANSWER.split(" ") if model == "fake-mini" else [f"w{i}" for i in range(SLOW_WORDS)]
    pieces = [word if i == 0 else f" {word}" for i, word in enumerate(words)]
    usage = {"prompt_tokens": 7, "completion_tokens": len(pieces), "total_tokens": 7 + len(pieces)}
    completion_id = f"chatcmpl-{int(time.time() * 1000)}"
    if not body.get("stream"):
        message = {"role": "assistant", "content": "".join(pieces)}
        return web.json_response(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": usage,
            }
        )
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    try:
        await response.write(
            _chunk(completion_id, model, {"role": "assistant", "content": ""}, None)
        )
        for piece in pieces:
            await asyncio.sleep(request.app[CHUNK_DELAY])
            await response.write(_chunk(completion_id, model, {"content": piece}, None))
        await response.write(_chunk(completion_id, model, {}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            final = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [],
                "usage": usage,
            }
            await response.write(f"data: {json.dumps(final)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
    except asyncio.CancelledError:
        request.app[LOG].disconnects.append(model)
        raise
    except ConnectionResetError:
        request.app[LOG].disconnects.append(model)
    return response


async def _markdown(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    """A Markdown answer after some reasoning, streamed in small pieces, then usage."""
    completion_id = f"chatcmpl-md-{int(time.time() * 1000)}"
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    delay = request.app[CHUNK_DELAY]
    await response.write(_chunk(completion_id, MARKDOWN_MODEL, {"role": "assistant"}, None))
    for word in REASONING.split(" "):
        await response.write(
            _chunk(completion_id, MARKDOWN_MODEL, {"reasoning_content": word + " "}, None)
        )
    pieces = [
        MARKDOWN_ANSWER[at : at + MARKDOWN_PIECE]
        for at in range(0, len(MARKDOWN_ANSWER), MARKDOWN_PIECE)
    ]
    for piece in pieces:
        await asyncio.sleep(delay)
        await response.write(_chunk(completion_id, MARKDOWN_MODEL, {"content": piece}, None))
    await response.write(_chunk(completion_id, MARKDOWN_MODEL, {}, "stop"))
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
    usage = {"prompt_tokens": prompt, "completion_tokens": 90, "total_tokens": prompt + 90}
    final = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MARKDOWN_MODEL,
        "choices": [],
        "usage": usage,
    }
    await response.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
    return response


def create_upstream(
    api_key: str, chunk_delay_s: float = 0.05, *, extra_models: bool = False
) -> web.Application:
    """The fake upstream app; serve it and point a provider's base_url at ``URL/v1``.

    ``extra_models`` adds a Markdown answer with reasoning and a model that always fails.
    """
    app = web.Application()
    app[API_KEY] = api_key
    app[CHUNK_DELAY] = chunk_delay_s
    app[EXTRA_MODELS] = extra_models
    app[LOG] = UpstreamLog()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    return app
