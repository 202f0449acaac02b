"""The Responses API as a ClientFormat: native for providers that speak it, else translated.

One instance serves one request and keeps the finished response object in
``result`` so the route can store it before the client's stream ends.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Final

import orjson

from gateway.adapters.base import JSON, StreamUsage, TemplatePaths, token_count
from gateway.adapters.shapes import load_object
from gateway.errors import NotFound, UpstreamError
from gateway.responses.events import EventStream
from gateway.responses.objects import Draft, from_completion
from gateway.responses.request import ResponsesRequest, chat_body
from gateway.validation import ChatParams

FINAL_EVENTS: Final = (b'"response.completed"', b'"response.incomplete"', b'"response.failed"')


def usage_of(response: JSON) -> StreamUsage:
    """A Response object's usage as the gateway counts it."""
    counts = response.get("usage")
    if not isinstance(counts, dict):
        return StreamUsage()
    inputs = counts.get("input_tokens_details")
    outputs = counts.get("output_tokens_details")
    return StreamUsage(
        token_count(counts.get("input_tokens")),
        token_count(counts.get("output_tokens")),
        token_count(inputs.get("cached_tokens")) if isinstance(inputs, dict) else 0,
        token_count(outputs.get("reasoning_tokens")) if isinstance(outputs, dict) else 0,
    )


def portable(items: list[JSON]) -> list[JSON]:
    """Stored items as input for another upstream: without the gateway's item ids and
    reasoning items (an upstream knows only its own)."""
    return [
        {k: v for k, v in item.items() if k not in ("id", "status")}
        for item in items
        if item.get("type") != "reasoning"
    ]


class ResponsesFormat:
    """Serves one ``POST /v1/responses`` through the proxy (see gateway/client_format.py)."""

    def __init__(
        self, request: ResponsesRequest, history: list[JSON] | None, inline_history: bool
    ) -> None:
        """``history``: the stored conversation before this input (None: the previous id is
        unknown here); ``inline_history``: send it to native providers as input too (the
        previous response was made here, not by them)."""
        self.request = request
        self.history = history
        self.inline_history = inline_history
        self.draft = Draft(request)
        self.writer = EventStream(self.draft)
        self.native = False
        """Whether the provider that answered speaks the Responses API itself."""
        self._result: JSON | None = None
        self._chat: tuple[JSON, bytes, ChatParams] | None = None

    @property
    def result(self) -> JSON | None:
        """The finished response object (completed, incomplete or failed), once there is one."""
        return self._result or self.writer.final

    # -- native ---------------------------------------------------------------

    def native_path(self, paths: TemplatePaths) -> str | None:
        return paths.responses

    def native_headers(self) -> Mapping[str, str]:
        return {}

    def native_body(self, upstream_model: str) -> bytes:
        self.native = True
        body = self.request.body
        if self.inline_history and self.history is not None:
            body = {k: v for k, v in body.items() if k != "previous_response_id"}
            body["input"] = portable(self.history) + self.request.input
        elif body.get("model") == upstream_model:
            return self.request.raw
        return orjson.dumps({**body, "model": upstream_model})

    def native_answer(self, payload: bytes) -> JSON:
        answer = load_object(payload, "response")
        if answer.get("object") != "response" or not isinstance(answer.get("output"), list):
            raise UpstreamError("upstream answer is not a response object")
        answer["model"] = self.request.model
        self._result = answer
        return answer

    def native_usage(self, answer: JSON) -> StreamUsage:
        return usage_of(answer)

    def watch_native(self, events: bytes, usage: list[StreamUsage]) -> None:
        self.writer.skip(events.count(b"data:"))
        if not any(marker in events for marker in FINAL_EVENTS):
            return
        for block in events.split(b"\n\n"):
            data = next((ln[5:].strip() for ln in block.split(b"\n") if ln[:5] == b"data:"), None)
            if data is None or not any(marker in data for marker in FINAL_EVENTS):
                continue
            try:
                event = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            response = event.get("response") if isinstance(event, dict) else None
            if isinstance(response, dict):
                usage.append(usage_of(response))
                self._result = {**response, "model": self.request.model}

    # -- translated -----------------------------------------------------------

    def chat_request(self) -> tuple[JSON, bytes, ChatParams]:
        if self._chat is None:
            if self.history is None:
                raise NotFound(
                    f"No stored response '{self.request.previous_response_id}' for this key.",
                    param="previous_response_id",
                )
            self._chat = chat_body(self.request, self.history)
        return self._chat

    def answer(self, completion: JSON) -> JSON:
        self.native = False  # a native candidate may have failed before this one answered
        self._result = from_completion(self.draft, completion)
        return self._result

    def events(
        self, chunks: AsyncIterator[JSON], usage: list[StreamUsage]
    ) -> AsyncGenerator[bytes, None]:
        self.native = False
        return self.writer.events(chunks, usage)

    def error_event(self, error: JSON) -> bytes:
        if self.native:
            found = error.get("error")
            detail: JSON = found if isinstance(found, dict) else {}
            return self.writer.event(
                "error",
                code=detail.get("code"),
                message=str(detail.get("message") or "The provider failed."),
                param=detail.get("param"),
            )
        prefix = b"" if self.writer.started else self.writer.start()
        return prefix + self.writer.failed(error)
