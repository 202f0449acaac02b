"""Stand-ins for the chat tests: a fixed provider directory and a minimal OpenAI adapter.

The real ones come from the provider registry and gateway/adapters/openai.py;
these implement the same interfaces so the routes are tested for real over HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from aiohttp import web

from gateway.adapters.base import JSON, ModelPage, StreamUsage, Target, UpstreamRequest
from gateway.app import create_app
from gateway.errors import UpstreamError
from gateway.providers.live import LiveProvider
from gateway.providers.router import ROUTER, Router
from gateway.proxy import ADAPTERS
from gateway.settings import Settings
from gateway.usage import USAGE_HOOKS

SERVER_KWARGS = {"handler_cancellation": True}
"""As gateway/server.py runs the app."""


class StaticDirectory:
    """A ProviderDirectory over a list that tests can replace."""

    def __init__(self, providers: Sequence[LiveProvider]) -> None:
        self.providers = {p.id: p for p in providers}
        self.listeners: list[Callable[[str | None], None]] = []

    def get(self, provider_id: str) -> LiveProvider | None:
        return self.providers.get(provider_id)

    def all(self) -> Sequence[LiveProvider]:
        return list(self.providers.values())

    def subscribe(self, listener: Callable[[str | None], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def put(self, provider: LiveProvider) -> None:
        self.providers[provider.id] = provider
        for listener in self.listeners:
            listener(provider.id)


def provider(provider_id: str, base_url: str = "http://127.0.0.1:9", **fields: Any) -> LiveProvider:
    target = Target(
        provider_id=provider_id,
        base_url=base_url,
        headers={"Authorization": f"Bearer sk-secret-{provider_id}"},
    )
    return LiveProvider(
        id=provider_id,
        name=provider_id,
        template="openai",
        adapter="openai",
        target=target,
        **fields,
    )


class PassthroughAdapter:
    """Just enough of the openai adapter: body untouched except ``model``."""

    name = "openai"
    supports_embeddings = True

    def _post(
        self, target: Target, path: str, body: JSON, raw: bytes, model: str
    ) -> UpstreamRequest:
        data = raw if body.get("model") == model else orjson.dumps({**body, "model": model})
        headers = {**target.headers, "Content-Type": "application/json"}
        return UpstreamRequest("POST", target.url(path, model), headers, data, target.query)

    def build_chat(
        self, target: Target, body: JSON, raw: bytes, upstream_model: str, stream: bool
    ) -> UpstreamRequest:
        return self._post(target, target.paths.chat, body, raw, upstream_model)

    def parse_chat(self, payload: bytes, model: str) -> JSON:
        try:
            answer: JSON = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise UpstreamError("The provider sent malformed JSON.") from None
        answer["model"] = model
        return answer

    def parse_error(self, status: int, payload: bytes) -> str:
        try:
            return str(orjson.loads(payload)["error"]["message"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return ""

    async def stream_chat(
        self,
        events: AsyncIterator[bytes],
        model: str,
        include_usage: bool,
        usage: list[StreamUsage],
    ) -> AsyncIterator[bytes]:
        async for payload in events:
            if b'"usage":{' in payload:
                counts = orjson.loads(payload)["usage"]
                usage.append(StreamUsage(counts["prompt_tokens"], counts["completion_tokens"]))
            yield b"data: " + payload + b"\n\n"

    def build_models(self, target: Target, cursor: str | None) -> UpstreamRequest:
        assert target.paths.models is not None
        return UpstreamRequest("GET", target.url(target.paths.models), target.headers)

    def parse_models(self, payload: bytes) -> ModelPage:
        return ModelPage([m["id"] for m in orjson.loads(payload)["data"]])

    def build_embeddings(
        self, target: Target, body: JSON, raw: bytes, upstream_model: str
    ) -> UpstreamRequest:
        assert target.paths.embeddings is not None
        return self._post(target, target.paths.embeddings, body, raw, upstream_model)

    def parse_embeddings(self, payload: bytes, model: str) -> JSON:
        answer: JSON = orjson.loads(payload)
        answer["model"] = model
        return answer


UsageRecord = tuple[str, str, StreamUsage]


def chat_app(
    settings: Settings,
    providers: Sequence[LiveProvider],
    usage: list[UsageRecord] | None = None,
    **router_options: Any,
) -> tuple[web.Application, StaticDirectory]:
    """The real app with the stand-in directory and adapter installed."""
    app = create_app(settings)
    directory = StaticDirectory(providers)
    app[ROUTER] = Router(directory, settings.routing, **router_options)
    app[ADAPTERS]["openai"] = PassthroughAdapter()
    if usage is not None:
        app[USAGE_HOOKS].append(lambda _request, pid, model, seen: usage.append((pid, model, seen)))
    return app, directory
