"""A fake OpenAI-compatible upstream.

Routes: /v1/chat/completions (plain and SSE; also Azure's
/v1/deployments/{name}/chat/completions), /v1/models, /v1/embeddings, and the
Responses API at /v1/responses (tests/fakes/responses_upstream.py). Streamed
tool calls interleave their argument fragments across indexes, as
parallel-calling upstreams do. ``ignores_stream = True`` makes it answer
``stream: true`` with a plain JSON body, as some compatible servers do. See
tests/fakes/base.py for usage.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from gateway.adapters.base import Target, TemplatePaths
from tests.fakes.base import FakeUpstream, split_text
from tests.fakes.responses_upstream import response_object, stream_events


def _data(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class FakeOpenAI(FakeUpstream):
    prefix = "/v1"
    ignores_stream = False

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/deployments/{deployment}/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/embeddings", self.embeddings)
        app.router.add_post("/v1/responses", self.responses)

    def auth_ok(self, request: web.Request) -> bool:
        """Bearer auth, or Azure's ``api-key`` header."""
        return (
            request.headers.get("Authorization") == f"Bearer {self.api_key}"
            or request.headers.get("api-key") == self.api_key
        )

    def error_body(self, status: int, message: str) -> Any:
        kind = "rate_limit_exceeded" if status == 429 else "invalid_request_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}

    def target(self) -> Target:
        return Target("fake-openai", self.url, {"Authorization": f"Bearer {self.api_key}"})

    def azure_target(self) -> Target:
        """The same server, addressed the way Azure is: deployment path, api-version, api-key."""
        return Target(
            "fake-azure",
            self.url,
            {"api-key": self.api_key},
            TemplatePaths(chat="/deployments/{deployment}/chat/completions"),
            {"api-version": "2024-10-21"},
        )

    async def responses(self, request: web.Request) -> web.StreamResponse:
        refusal = await self.gate(request)
        if refusal is not None:
            return refusal
        body = orjson.loads(await request.read())
        self.take_reply()
        if body.get("stream"):
            failed = {"type": "error", "code": "server_error", "message": "upstream broke"}
            error = b"event: error\ndata: " + orjson.dumps(failed) + b"\n\n"
            return await self.stream(request, stream_events(self.reply, body), error)
        return self.json(response_object(self.reply, body, "completed"))

    def _details(self) -> dict[str, Any]:
        """OpenAI's token details, when the reply has cached or reasoning tokens (as many
        compatible servers, this fake leaves them out otherwise)."""
        reply = self.reply
        if not (reply.cached_tokens or reply.reasoning_tokens):
            return {}
        return {
            "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        }

    def _tool_calls(self) -> list[dict[str, Any]]:
        return [
            {
                "id": f"call_fake{i}",
                "type": "function",
                "function": {"name": name, "arguments": orjson.dumps(args).decode()},
            }
            for i, (name, args) in enumerate(self.reply.tool_calls)
        ]

    async def chat(self, request: web.Request) -> web.StreamResponse:
        refusal = await self.gate(request)
        if refusal is not None:
            return refusal
        body = orjson.loads(await request.read())
        self.take_reply()
        if body.get("stream") and not self.ignores_stream:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            error = _data(
                {
                    "error": {
                        "message": self.said("upstream broke mid-stream"),
                        "type": "server_error",
                    }
                }
            )
            return await self.stream(request, self._chunks(body["model"], include_usage), error)
        reply = self.reply
        calls = self._tool_calls()
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if calls else reply.text,
            "refusal": None,
            "annotations": [],
        }
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if calls:
            message["tool_calls"] = calls
        return self.json(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": reply.finish or ("tool_calls" if calls else "stop"),
                    }
                ],
                "usage": {
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                    **self._details(),
                },
                "system_fingerprint": "fp_fake",
            }
        )

    def _chunks(self, model: str, include_usage: bool) -> Iterator[bytes]:
        reply = self.reply
        head = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
        }
        extra: dict[str, Any] = {"usage": None} if include_usage else {}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return _data({**head, "choices": [choice], **extra})

        yield chunk({"role": "assistant", "content": ""})
        for piece in split_text(reply.reasoning) if reply.reasoning else ():
            yield chunk({"reasoning_content": piece})  # as DeepSeek and vLLM stream reasoning
        calls = self._tool_calls()
        if not calls:
            for piece in split_text(reply.text):
                yield chunk({"content": piece})
        for i, call in enumerate(calls):
            opening = {"index": i, "id": call["id"], "type": "function"}
            yield chunk(
                {
                    "tool_calls": [
                        {**opening, "function": {"name": call["function"]["name"], "arguments": ""}}
                    ]
                }
            )
        # Fragments of different calls interleave: clients must key them by index.
        pieces = [split_text(call["function"]["arguments"], 2) for call in calls]
        for step in range(2):
            for i, parts in enumerate(pieces):
                if step < len(parts):
                    yield chunk(
                        {"tool_calls": [{"index": i, "function": {"arguments": parts[step]}}]}
                    )
        yield chunk({}, reply.finish or ("tool_calls" if calls else "stop"))
        if include_usage:
            usage = {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                **self._details(),
            }
            yield _data({**head, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"

    async def models(self, request: web.Request) -> web.Response:
        refusal = await self.gate(request)
        if refusal is not None:
            return refusal
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.model_ids
        ]
        return self.json({"object": "list", "data": data})

    async def embeddings(self, request: web.Request) -> web.Response:
        refusal = await self.gate(request)
        if refusal is not None:
            return refusal
        body = orjson.loads(await request.read())
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [0.1 * (i + 1), 0.2, 0.3]}
            for i in range(len(inputs))
        ]
        return self.json(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            }
        )
