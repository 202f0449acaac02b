"""A fake OpenAI-style upstream serving GET /v1/models and GET /healthz, counting calls.

Flip ``status`` to make it fail, set ``delay`` to make it slow, ``page_size`` to
page the list (``after``/``has_more``/``last_id``, as cursor-paged upstreams do).
``OpenAIModelsAdapter`` is the minimal adapter side: build_models/parse_models.
"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from gateway.adapters.base import ModelPage, Target, UpstreamRequest


class ModelsUpstream:
    def __init__(self, models: list[str] | None = None, key: str = "sk-fake-key") -> None:
        self.models = models if models is not None else ["gpt-4o", "gpt-4o-mini"]
        self.key = key
        self.status = 200
        self.delay = 0.0
        self.page_size: int | None = None
        self.calls = 0
        self.health_calls = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/healthz", self._health)
        return app

    def _refusal(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        if self.status != 200:
            return _error(self.status, "The server is overloaded.", "server_error")
        return None

    async def _models(self, request: web.Request) -> web.Response:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        models = self.models
        body: dict[str, object] = {"object": "list"}
        if self.page_size is not None:
            after = request.query.get("after")
            start = models.index(after) + 1 if after in models else 0
            page = models[start : start + self.page_size]
            body["has_more"] = start + self.page_size < len(models)
            body["last_id"] = page[-1] if page else None
            models = page
        body["data"] = [
            {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "fake"}
            for m in models
        ]
        return web.json_response(body)

    async def _health(self, request: web.Request) -> web.Response:
        self.health_calls += 1
        refusal = self._refusal(request)
        return refusal if refusal is not None else web.json_response({"status": "ok"})


def _error(status: int, message: str, code: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    return web.json_response(body, status=status)


class OpenAIModelsAdapter:
    """The models half of an OpenAI-style adapter, enough for the catalog and the monitor."""

    name = "openai"

    def build_models(self, target: Target, cursor: str | None) -> UpstreamRequest:
        if target.paths.models is None:
            raise ValueError("this provider has no models path")
        params = {"after": cursor} if cursor else {}
        return UpstreamRequest("GET", target.url(target.paths.models), target.headers, None, params)

    def parse_models(self, payload: bytes) -> ModelPage:
        body = orjson.loads(payload)
        ids = [item["id"] for item in body["data"]]
        return ModelPage(ids, body.get("last_id") if body.get("has_more") else None)

    def parse_error(self, status: int, payload: bytes) -> str:
        try:
            return str(orjson.loads(payload)["error"]["message"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return f"HTTP {status}"
