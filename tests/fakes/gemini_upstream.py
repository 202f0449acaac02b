"""A fake Gemini API: POST /v1beta/models/{model}:generateContent,
:streamGenerateContent?alt=sse (``\\r\\n`` line ends, function calls whole and
without ids), :batchEmbedContents, GET /v1beta/models paginated with pageToken.
Auth: ``x-goog-api-key`` only; a ``key`` query parameter is refused with 400 so
a key in a URL fails loudly. See tests/fakes/base.py for usage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from gateway.adapters.base import Target, TemplatePaths
from tests.fakes.base import FakeUpstream, split_text

STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _data(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\r\n\r\n"


class FakeGemini(FakeUpstream):
    prefix = "/v1beta"
    model_ids = ("gemini-a", "gemini-b", "embedding-a")
    thought_signature = ""
    """When set, function-call parts carry it as ``thoughtSignature`` (as Gemini 3 does)."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1beta/models/{call}", self.call)
        app.router.add_get("/v1beta/models", self.models)

    def auth_ok(self, request: web.Request) -> bool:
        return request.headers.get("x-goog-api-key") == self.api_key

    def error_body(self, status: int, message: str) -> Any:
        return {
            "error": {"code": status, "message": message, "status": STATUSES.get(status, "UNKNOWN")}
        }

    def target(self) -> Target:
        paths = TemplatePaths(chat="/models/{model}:generateContent", embeddings=None)
        return Target("fake-gemini", self.url, {"x-goog-api-key": self.api_key}, paths)

    async def call(self, request: web.Request) -> web.StreamResponse:
        if "key" in request.query:
            await self.record(request)
            return self.error(400, "API keys in URLs are not accepted by this fake")
        refusal = await self.gate(request)
        if refusal is not None:
            return refusal
        model, _, method = request.match_info["call"].partition(":")
        body = orjson.loads(await request.read())
        if method in ("generateContent", "streamGenerateContent"):
            self.take_reply()
        if method == "generateContent":
            return self.json(self._answer(self._parts(), final=True))
        if method == "streamGenerateContent" and request.query.get("alt") == "sse":
            error = _data(self.error_body(503, self.said("The model is overloaded")))
            return await self.stream(request, self._events(), error)
        if method == "batchEmbedContents":
            embeddings = [{"values": [0.5, float(i), 0.25]} for i, _ in enumerate(body["requests"])]
            return self.json({"embeddings": embeddings})
        return self.error(404, f"unknown method {method!r} for {model!r}")

    def _parts(self) -> list[dict[str, Any]]:
        reply = self.reply
        parts: list[dict[str, Any]] = []
        if reply.reasoning:
            parts.append({"text": reply.reasoning, "thought": True})
        if reply.text:
            parts.append({"text": reply.text})
        parts += self._calls()
        return parts

    def _calls(self) -> list[dict[str, Any]]:
        signed = {"thoughtSignature": self.thought_signature} if self.thought_signature else {}
        return [
            {"functionCall": {"name": n, "args": a}, **signed} for n, a in self.reply.tool_calls
        ]

    def _answer(self, parts: list[dict[str, Any]], final: bool) -> dict[str, Any]:
        reply = self.reply
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        answer: dict[str, Any] = {
            "candidates": [candidate],
            "modelVersion": "gemini-fake",
            "responseId": "resp-fake",
        }
        if final:
            candidate["finishReason"] = reply.finish or "STOP"
            if reply.finish_message:
                candidate["finishMessage"] = reply.finish_message
            answer["usageMetadata"] = {
                "promptTokenCount": reply.prompt_tokens,
                "candidatesTokenCount": reply.completion_tokens - reply.reasoning_tokens,
                "totalTokenCount": reply.prompt_tokens + reply.completion_tokens,
            }
            if reply.cached_tokens:
                answer["usageMetadata"]["cachedContentTokenCount"] = reply.cached_tokens
            if reply.reasoning_tokens:
                answer["usageMetadata"]["thoughtsTokenCount"] = reply.reasoning_tokens
        else:
            answer["usageMetadata"] = {"promptTokenCount": reply.prompt_tokens}
        return answer

    def _events(self) -> Iterator[bytes]:
        reply = self.reply
        if reply.reasoning:
            yield _data(self._answer([{"text": reply.reasoning, "thought": True}], final=False))
        pieces = split_text(reply.text) if reply.text else []
        for piece in pieces:
            yield _data(self._answer([{"text": piece}], final=False))
        yield _data(self._answer(self._calls(), final=True))

    async def models(self, request: web.Request) -> web.Response:
        refusal = await self.gate(request)
        if refusal is not None:
            return refusal
        ids = list(self.model_ids)
        start = int(request.query.get("pageToken") or 0)
        size = min(int(request.query.get("pageSize", "50")), self.models_page_size)
        models = [
            {
                "name": f"models/{m}",
                "supportedGenerationMethods": ["embedContent"]
                if "embedding" in m
                else ["generateContent", "countTokens"],
            }
            for m in ids[start : start + size]
        ]
        answer: dict[str, Any] = {"models": models}
        if start + size < len(ids):
            answer["nextPageToken"] = str(start + size)
        return self.json(answer)
