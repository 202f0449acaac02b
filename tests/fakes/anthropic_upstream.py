"""A fake Anthropic Messages API: POST /v1/messages (plain and SSE with named events,
thinking, text and tool_use blocks), POST /v1/messages/count_tokens (answers the
reply's ``prompt_tokens``), GET /v1/models paginated with after_id / has_more /
last_id. Auth: ``x-api-key`` plus ``anthropic-version``. See tests/fakes/base.py
for usage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from gateway.adapters.base import Target, TemplatePaths
from tests.fakes.base import FakeUpstream, Reply, split_text

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return (
        b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **payload}) + b"\n\n"
    )


def _usage(reply: Reply, output_tokens: int) -> dict[str, Any]:
    """Anthropic's usage: ``input_tokens`` leaves out the cache reads and writes."""
    written = reply.cache_write_tokens
    return {
        "input_tokens": reply.prompt_tokens - reply.cached_tokens - written,
        "cache_read_input_tokens": reply.cached_tokens,
        "cache_creation_input_tokens": written,
        "cache_creation": {"ephemeral_5m_input_tokens": written, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
    }


def _thinking_problem(body: dict[str, Any]) -> str | None:
    """Anthropic's rule with thinking on: a tool_use turn starts with its signed thinking block.

    (docs.claude.com, extended thinking: "Preserving thinking blocks" with tool use.)
    """
    if (body.get("thinking") or {}).get("type") != "enabled":
        return None
    for i, message in enumerate(body["messages"]):
        content = message.get("content")
        if message["role"] != "assistant" or not isinstance(content, list):
            continue
        if any(block.get("type") == "tool_use" for block in content):
            first = content[0]
            signed = first.get("type") == "redacted_thinking" or (
                first.get("type") == "thinking" and first.get("signature")
            )
            if not signed:
                return (
                    f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                    f"but found `{first.get('type')}`. When `thinking` is enabled, a final "
                    "`assistant` message must start with a thinking block."
                )
    return None


class FakeAnthropic(FakeUpstream):
    prefix = "/v1"
    model_ids = ("claude-a", "claude-b", "claude-c")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self.messages)
        app.router.add_post("/v1/messages/count_tokens", self.count_tokens)
        app.router.add_get("/v1/models", self.models)

    def auth_ok(self, request: web.Request) -> bool:
        return (
            request.headers.get("x-api-key") == self.api_key
            and "anthropic-version" in request.headers
        )

    def error_body(self, status: int, message: str) -> Any:
        return {
            "type": "error",
            "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
        }

    def target(self) -> Target:
        headers = {"x-api-key": self.api_key, "anthropic-version": "2023-06-01"}
        return Target("fake-anthropic", self.url, headers, TemplatePaths(chat="/messages"))

    def _blocks(self) -> list[dict[str, Any]]:
        reply = self.reply
        blocks: list[dict[str, Any]] = []
        if reply.reasoning:
            blocks.append({"type": "thinking", "thinking": reply.reasoning, "signature": "sig"})
        if reply.text:
            blocks.append({"type": "text", "text": reply.text})
        for i, (name, args) in enumerate(reply.tool_calls):
            blocks.append({"type": "tool_use", "id": f"toolu_fake{i}", "name": name, "input": args})
        return blocks

    def _stop_reason(self) -> str:
        return self.reply.finish or ("tool_use" if self.reply.tool_calls else "end_turn")

    async def messages(self, request: web.Request) -> web.StreamResponse:
        refusal = await self.gate(request)
        if refusal is not None:
            return refusal
        body = orjson.loads(await request.read())
        self.take_reply()
        if "max_tokens" not in body:
            return self.error(400, "max_tokens: Field required")
        problem = _thinking_problem(body)
        if problem:
            return self.error(400, problem)
        if body.get("stream"):
            error = _event(
                "error", {"error": {"type": "overloaded_error", "message": self.said("Overloaded")}}
            )
            return await self.stream(request, self._events(body["model"]), error)
        reply = self.reply
        return self.json(
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": self._blocks(),
                "stop_reason": self._stop_reason(),
                "stop_sequence": None,
                "usage": _usage(reply, reply.completion_tokens),
            }
        )

    async def count_tokens(self, request: web.Request) -> web.Response:
        refusal = await self.gate(request)
        if refusal is not None:
            return refusal
        body = orjson.loads(await request.read())
        if "messages" not in body or "model" not in body:
            return self.error(400, "messages: Field required")
        return self.json({"input_tokens": self.reply.prompt_tokens})

    def _events(self, model: str) -> Iterator[bytes]:
        reply = self.reply
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(reply, 1),
        }
        yield _event("message_start", {"message": message})
        yield _event("ping", {})
        for index, block in enumerate(self._blocks()):
            kind = block["type"]
            if kind == "thinking":
                yield _event(
                    "content_block_start",
                    {"index": index, "content_block": {"type": "thinking", "thinking": ""}},
                )
                for piece in split_text(block["thinking"]):
                    delta = {"type": "thinking_delta", "thinking": piece}
                    yield _event("content_block_delta", {"index": index, "delta": delta})
                delta = {"type": "signature_delta", "signature": "sig"}
                yield _event("content_block_delta", {"index": index, "delta": delta})
            elif kind == "text":
                yield _event(
                    "content_block_start",
                    {"index": index, "content_block": {"type": "text", "text": ""}},
                )
                for piece in split_text(block["text"]):
                    delta = {"type": "text_delta", "text": piece}
                    yield _event("content_block_delta", {"index": index, "delta": delta})
            else:
                start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                yield _event("content_block_start", {"index": index, "content_block": start})
                for piece in split_text(orjson.dumps(block["input"]).decode()):
                    delta = {"type": "input_json_delta", "partial_json": piece}
                    yield _event("content_block_delta", {"index": index, "delta": delta})
            yield _event("content_block_stop", {"index": index})
        yield _event(
            "message_delta",
            {
                "delta": {"stop_reason": self._stop_reason(), "stop_sequence": None},
                "usage": {"output_tokens": reply.completion_tokens},
            },
        )
        yield _event("message_stop", {})

    async def models(self, request: web.Request) -> web.Response:
        refusal = await self.gate(request)
        if refusal is not None:
            return refusal
        ids = list(self.model_ids)
        after = request.query.get("after_id")
        start = ids.index(after) + 1 if after in ids else 0
        limit = min(int(request.query.get("limit", "20")), self.models_page_size)
        page = ids[start : start + limit]
        return self.json(
            {
                "data": [
                    {
                        "type": "model",
                        "id": m,
                        "display_name": m,
                        "created_at": "2025-01-01T00:00:00Z",
                    }
                    for m in page
                ],
                "has_more": start + limit < len(ids),
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
            }
        )
