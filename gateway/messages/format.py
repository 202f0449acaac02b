"""The Messages API as a client format of the chat pipeline (see gateway/client_format.py).

Anthropic providers (a template with ``paths.messages``) get the client's body
untouched but for ``model``, with the client's ``anthropic-version`` and
``anthropic-beta`` headers, and their bytes are relayed as they come; the
format only reads the usage out of them. Every other provider gets the
translated chat body, and its answer or chunk stream is translated back.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Final

import orjson

from gateway.adapters.base import JSON, StreamUsage, TemplatePaths, token_count
from gateway.adapters.shapes import load_object
from gateway.errors import OVERLOADED, anthropic_type
from gateway.messages import request as messages_request
from gateway.messages.answer import to_message
from gateway.messages.events import error_event, message_events
from gateway.messages.request import MessagesParams
from gateway.validation import ChatParams

FORWARDED_HEADERS: Final = ("anthropic-version", "anthropic-beta")
"""Client headers an Anthropic upstream gets (the client's version replaces the template's)."""

ERROR_TYPES: Final = {
    "rate_limit_error": "rate_limit_error",
    "rate_limit_exceeded": "rate_limit_error",
    "overloaded_error": "overloaded_error",
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
}
"""An in-stream error's OpenAI-side type -> Anthropic's; anything else is an ``api_error``."""


def native_usage(counts: object, previous: StreamUsage | None = None) -> StreamUsage:
    """An Anthropic usage object as StreamUsage; counts it lacks keep their earlier values."""
    base = previous or StreamUsage()
    if not isinstance(counts, dict):
        return base
    read = (
        token_count(counts["cache_read_input_tokens"])
        if "cache_read_input_tokens" in counts
        else base.cached_tokens
    )
    if "input_tokens" in counts:
        written = token_count(counts.get("cache_creation_input_tokens"))
        prompt = token_count(counts.get("input_tokens")) + written + read
    else:
        prompt, written = base.prompt_tokens, base.cache_write_tokens
    output = (
        token_count(counts["output_tokens"])
        if "output_tokens" in counts
        else base.completion_tokens
    )
    return StreamUsage(prompt, output, read, base.reasoning_tokens, written)


class MessagesFormat:
    """One /v1/messages request as the chat pipeline sees it."""

    __slots__ = ("_chat", "body", "headers", "params", "raw")

    def __init__(
        self, body: JSON, raw: bytes, params: MessagesParams, headers: Mapping[str, str]
    ) -> None:
        self.body = body
        self.raw = raw
        self.params = params
        self.headers = {name: headers[name] for name in FORWARDED_HEADERS if name in headers}
        self._chat: tuple[JSON, bytes, ChatParams] | None = None

    # native (Anthropic providers) -------------------------------------------
    def native_path(self, paths: TemplatePaths) -> str | None:
        return paths.messages

    def native_headers(self) -> Mapping[str, str]:
        return self.headers

    def native_body(self, upstream_model: str) -> bytes:
        if self.body.get("model") == upstream_model:
            return self.raw
        return orjson.dumps({**self.body, "model": upstream_model})

    def native_answer(self, payload: bytes) -> JSON:
        return load_object(payload, "message")

    def native_usage(self, answer: JSON) -> StreamUsage:
        return native_usage(answer.get("usage"))

    def watch_native(self, events: bytes, usage: list[StreamUsage]) -> None:
        """Usage rides on message_start (input) and message_delta (output)."""
        if b'"usage"' not in events:
            return
        for line in events.split(b"\n"):
            if not line.startswith(b"data:") or b'"usage"' not in line:
                continue
            try:
                data = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                continue  # relayed as is: the client sees what the upstream sent
            if not isinstance(data, dict):
                continue
            message = data.get("message")
            counts = message.get("usage") if isinstance(message, dict) else data.get("usage")
            usage.append(native_usage(counts, usage[-1] if usage else None))

    # translated (every other provider) --------------------------------------
    def chat_request(self) -> tuple[JSON, bytes, ChatParams]:
        if self._chat is None:
            chat = messages_request.to_chat(self.body, self.params)
            self._chat = (chat, orjson.dumps(chat), messages_request.chat_params(self.params))
        return self._chat

    def answer(self, completion: JSON) -> JSON:
        return to_message(completion, self.params.model, self.params.stop_sequences)

    def events(
        self, chunks: AsyncIterator[JSON], usage: list[StreamUsage]
    ) -> AsyncGenerator[bytes, None]:
        return message_events(chunks, self.params.model, self.params.stop_sequences, usage)

    def error_event(self, error: JSON) -> bytes:
        detail = error.get("error")
        if not isinstance(detail, dict):
            detail = {}
        kind = "overloaded_error" if detail.get("code") == OVERLOADED else detail.get("type")
        message = detail.get("message")
        mapped = ERROR_TYPES.get(kind) if isinstance(kind, str) else None
        return error_event(
            mapped or anthropic_type(500),
            message if isinstance(message, str) and message else "The provider failed.",
        )
