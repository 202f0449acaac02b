"""OpenAI-compatible upstreams (OpenAI, Azure, Ollama /v1, vLLM, Groq, OpenRouter, ...).

The client's body goes upstream untouched except ``model``, so parameters we
do not know about still work; stream payloads are relayed as they came, once
checked to be JSON objects (a malformed one ends the stream with an error).
Azure differs only in data (the Target's paths, query and auth header), never
in code.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator

import orjson

from gateway.adapters.base import JSON, ModelPage, StreamUsage, Target, UpstreamRequest
from gateway.adapters.shapes import (
    error_event,
    error_message,
    load_object,
    models_request,
    new_id,
)
from gateway.errors import UpstreamError
from gateway.security.redaction import mask_secrets

_NULL = b'"usage":null'
ERROR_HEAD = 32
"""An upstream's in-stream error object names ``error`` within its first bytes."""
_NULL_SPACED = b'"usage": null'
_ERROR = b'"error"'


def _with_model(body: JSON, raw: bytes, upstream_model: str) -> bytes:
    if body.get("model") == upstream_model:
        return raw
    return orjson.dumps({**body, "model": upstream_model})


def _stream_error(data: bytes) -> bytes | None:
    """An upstream's in-stream error as our final error event (all four fields, as OpenAI's)."""
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    error = event.get("error") if isinstance(event, dict) else None
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    return error_event(
        str(error.get("message") or "upstream stream error"),
        error["type"] if isinstance(error.get("type"), str) else "upstream_error",
        str(code) if code is not None else None,
    )


class OpenAIAdapter:
    name = "openai"
    supports_embeddings = True

    def build_chat(
        self, target: Target, body: JSON, raw: bytes, upstream_model: str, stream: bool
    ) -> UpstreamRequest:
        return UpstreamRequest(
            "POST",
            target.url(target.paths.chat, upstream_model),
            target.json_headers,
            _with_model(body, raw, upstream_model),
            target.query,
        )

    def parse_chat(self, payload: bytes, model: str) -> JSON:
        answer = load_object(payload, "chat completion")
        choices = answer.get("choices")
        if not isinstance(choices, list):
            raise UpstreamError("upstream chat completion has no choices")
        for choice in choices:  # compatible servers often leave out what OpenAI requires
            if isinstance(choice, dict):
                choice.setdefault("logprobs", None)
                message = choice.get("message")
                if isinstance(message, dict):
                    message.setdefault("refusal", None)
        answer["model"] = model
        if "id" not in answer:  # some compatible servers omit these
            answer["id"] = new_id("chatcmpl-")
        answer.setdefault("object", "chat.completion")
        answer.setdefault("created", int(time.time()))
        return answer

    parse_error = staticmethod(error_message)

    async def stream_chat(
        self,
        events: AsyncIterator[bytes],
        model: str,
        include_usage: bool,
        usage: list[StreamUsage],
    ) -> AsyncGenerator[bytes, None]:
        async for data in events:
            if data == b"[DONE]":
                return
            if b'"error"' in data[:ERROR_HEAD]:
                error = _stream_error(data)
                if error is not None:
                    yield error
                    return
            try:
                chunk = orjson.loads(data)  # about a microsecond: checked, then relayed as is
            except orjson.JSONDecodeError:
                raise UpstreamError("the provider sent a stream event that is not JSON") from None
            if not isinstance(chunk, dict):
                raise UpstreamError("the provider sent a stream event that is not a JSON object")
            if b'"usage"' in data and _NULL not in data and _NULL_SPACED not in data:
                counts = chunk.get("usage")
                if isinstance(counts, dict):
                    usage.append(StreamUsage.from_openai(counts))
            if _ERROR in data:  # an in-stream error event may echo the key: mask it
                data = mask_secrets(data.decode("utf-8", "replace")).encode()
            yield b"data: " + data + b"\n\n"

    def build_models(self, target: Target, cursor: str | None) -> UpstreamRequest:
        return models_request(target)

    def parse_models(self, payload: bytes) -> ModelPage:
        listing = load_object(payload, "model list")
        data = listing.get("data")
        if not isinstance(data, list):
            raise UpstreamError("upstream model list has no data")
        return ModelPage(
            [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
        )

    def build_embeddings(
        self, target: Target, body: JSON, raw: bytes, upstream_model: str
    ) -> UpstreamRequest:
        path = target.paths.embeddings or "/embeddings"
        return UpstreamRequest(
            "POST",
            target.url(path, upstream_model),
            target.json_headers,
            _with_model(body, raw, upstream_model),
            target.query,
        )

    def parse_embeddings(self, payload: bytes, model: str, body: JSON) -> JSON:
        answer = load_object(payload, "embeddings answer")
        if not isinstance(answer.get("data"), list):
            raise UpstreamError("upstream embeddings answer has no data")
        answer["model"] = model
        return answer
