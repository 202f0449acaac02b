"""A fast fake LLM upstream for the benchmark: OpenAI- and Anthropic-style, JSON and SSE.

Streams send CHUNKS chunks INTERVAL seconds apart. A model name ending in
``-long`` streams ten times slower (for holding many streams open). Prints
``PORT <n>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
from aiohttp import web

CHUNKS = 50
INTERVAL = 0.02

COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "The quick brown fox."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
    }
)
CHUNK = (
    b"data: "
    + orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "bench-model",
            "choices": [{"index": 0, "delta": {"content": "word "}, "finish_reason": None}],
        }
    )
    + b"\n\n"
)
USAGE_CHUNK = (
    b"data: "
    + orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "bench-model",
            "choices": [],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": CHUNKS,
                "total_tokens": 12 + CHUNKS,
            },
        }
    )
    + b"\n\n"
)


def anthropic_event(name: str, data: dict[str, object]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **data}) + b"\n\n"


ANTHROPIC_START = anthropic_event(
    "message_start",
    {
        "message": {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": "claude-bench",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 12, "output_tokens": 1},
        }
    },
) + anthropic_event(
    "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
)
ANTHROPIC_DELTA = anthropic_event(
    "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "word "}}
)
ANTHROPIC_END = (
    anthropic_event("content_block_stop", {"index": 0})
    + anthropic_event(
        "message_delta",
        {
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": CHUNKS},
        },
    )
    + anthropic_event("message_stop", {})
)
ANTHROPIC_MESSAGE = orjson.dumps(
    {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-bench",
        "content": [{"type": "text", "text": "The quick brown fox."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 6},
    }
)


async def _stream(
    request: web.Request, head: bytes, chunk: bytes, tail: bytes, interval: float
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    if head:
        await response.write(head)
    try:
        for _ in range(CHUNKS):
            await asyncio.sleep(interval)
            await response.write(chunk)
        await response.write(tail)
    except ConnectionResetError:
        pass  # the memory test hangs up on purpose
    return response


async def chat(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    if not body.get("stream"):
        return web.Response(body=COMPLETION, content_type="application/json")
    interval = INTERVAL * 10 if body["model"].endswith("-long") else INTERVAL
    include_usage = (body.get("stream_options") or {}).get("include_usage")
    tail = (USAGE_CHUNK if include_usage else b"") + b"data: [DONE]\n\n"
    return await _stream(request, b"", CHUNK, tail, interval)


async def messages(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    if not body.get("stream"):
        return web.Response(body=ANTHROPIC_MESSAGE, content_type="application/json")
    interval = INTERVAL * 10 if body["model"].endswith("-long") else INTERVAL
    return await _stream(request, ANTHROPIC_START, ANTHROPIC_DELTA, ANTHROPIC_END, interval)


async def models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": "bench-model"}]})


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/messages", messages)
    app.router.add_get("/v1/models", models)
    return app


async def serve(port: int) -> None:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
    await site.start()
    assert runner.addresses
    print(f"PORT {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    import uvloop

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    uvloop.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
