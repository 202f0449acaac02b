"""An in-memory stand-in for the providers, models, health and keys APIs, built to their
written contracts (issues 3 to 6), mounted on the real app next to the real /ui/ routes.

It lets the console's full flow run in a browser before those APIs exist; once they
are merged, tests/web/e2e_pending/e2e_console.py runs the same flow against the real
ones. It talks to the fake upstream over real HTTP with the stored provider key and
never returns that key.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import aiohttp
from aiohttp import web

from gateway.errors import AuthenticationFailed, InvalidRequest, NotFound, UpstreamError

TEMPLATES = [
    {
        "id": "openai",
        "display_name": "OpenAI",
        "adapter": "openai",
        "base_url": "https://api.openai.com/v1",
        "key_required": True,
        "docs_url": "https://platform.openai.com/docs/api-reference",
        "models": [],
    },
    {
        "id": "ollama",
        "name": "Ollama (local)",
        "adapter": "openai",
        "base_url": "http://127.0.0.1:11434/v1",
        "key_required": False,
        "docs_url": None,
        "models": ["llama3.2"],
    },
]
UPDATABLE = {
    "name", "base_url", "api_key", "headers", "models", "aliases", "default_model",
    "enabled", "priority", "weight", "timeout_s",
}  # fmt: skip


class ContractApi:
    """State and handlers of the stand-in API."""

    def __init__(self, admin_key: str) -> None:
        self.admin_key = admin_key
        self.providers: dict[str, dict[str, Any]] = {}
        self.provider_keys: dict[str, str] = {}
        self.client_keys: dict[str, dict[str, Any]] = {}
        self.session: aiohttp.ClientSession | None = None

    def check(self, request: web.Request, scope: str = "admin") -> None:
        header = request.headers.get("Authorization", "")
        key = header.removeprefix("Bearer ")
        if key == self.admin_key:
            return
        for record in self.client_keys.values():
            if secrets.compare_digest(record["secret"], key) and scope in record["scopes"]:
                return
        raise AuthenticationFailed("Invalid API key.")

    def public(self, provider: dict[str, Any]) -> dict[str, Any]:
        key = self.provider_keys.get(provider["id"])
        hint = f"sk-…{key[-4:]}" if key and len(key) >= 12 else None
        return {**provider, "has_api_key": key is not None, "api_key_hint": hint}

    def provider(self, request: web.Request) -> dict[str, Any]:
        self.check(request)
        found = self.providers.get(request.match_info["id"])
        if found is None:
            raise NotFound(f"No provider {request.match_info['id']!r}.")
        return found

    async def upstream(self, provider_id: str, method: str, path: str, **kw: Any) -> Any:
        provider = self.providers[provider_id]
        headers = {}
        if provider_id in self.provider_keys:
            headers["Authorization"] = f"Bearer {self.provider_keys[provider_id]}"
        assert self.session is not None
        return self.session.request(method, provider["base_url"] + path, headers=headers, **kw)

    async def upstream_models(self, provider_id: str) -> tuple[int, list[dict[str, Any]], str]:
        async with await self.upstream(provider_id, "GET", "/models") as response:
            if response.status != 200:
                return response.status, [], (await response.json())["error"]["message"]
            return 200, (await response.json())["data"], ""

    async def templates(self, request: web.Request) -> web.Response:
        self.check(request)
        return web.json_response({"object": "list", "data": TEMPLATES})

    async def create(self, request: web.Request) -> web.Response:
        self.check(request)
        body = await request.json()
        template = next((t for t in TEMPLATES if t["id"] == body.get("template")), None)
        if template is None:
            raise InvalidRequest("Unknown template.", param="template")
        name = body.get("name", "")
        provider_id = body.get("id") or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.providers[provider_id] = {
            "id": provider_id, "name": name, "template": template["id"],
            "base_url": body.get("base_url") or template["base_url"],
            "headers": body.get("headers", {}), "models": body.get("models", []),
            "aliases": body.get("aliases", {}), "default_model": body.get("default_model"),
            "enabled": body.get("enabled", True), "priority": body.get("priority", 0),
            "weight": body.get("weight", 1), "timeout_s": body.get("timeout_s", 60),
            "created_at": now, "updated_at": now, "source": "api",
        }  # fmt: skip
        if body.get("api_key"):
            self.provider_keys[provider_id] = body["api_key"]
        created = self.public(self.providers[provider_id])
        return web.json_response(created, status=201, headers={"Location": provider_id})

    async def list_providers(self, request: web.Request) -> web.Response:
        self.check(request)
        data = [self.public(p) for p in self.providers.values()]
        return web.json_response({"object": "list", "data": data})

    async def update(self, request: web.Request) -> web.Response:
        provider = self.provider(request)
        body = await request.json()
        unknown = set(body) - UPDATABLE
        if unknown:
            raise InvalidRequest(f"Unknown fields: {sorted(unknown)}", param=sorted(unknown)[0])
        if "api_key" in body:
            key = body.pop("api_key")
            if key is None:
                self.provider_keys.pop(provider["id"], None)
            else:
                self.provider_keys[provider["id"]] = key
        provider.update(body)
        return web.json_response(self.public(provider))

    async def delete(self, request: web.Request) -> web.Response:
        provider = self.provider(request)
        del self.providers[provider["id"]]
        self.provider_keys.pop(provider["id"], None)
        return web.Response(status=204)

    async def provider_models(self, request: web.Request) -> web.Response:
        provider = self.provider(request)
        status, data, message = await self.upstream_models(provider["id"])
        if status != 200:
            raise UpstreamError(f"Upstream answered {status}: {message}")
        fetched = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = {"object": "list", "data": data, "cached": False, "fetched_at": fetched}
        return web.json_response(body)

    async def health(self, request: web.Request) -> web.Response:
        provider = self.provider(request)
        started = time.perf_counter()
        status, _, message = await self.upstream_models(provider["id"])
        return web.json_response(
            {
                "provider": provider["id"],
                "status": "healthy" if status == 200 else "unhealthy",
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "consecutive_failures": 0 if status == 200 else 1,
                "last_error": message or None,
                "circuit": "closed",
            }
        )

    async def test(self, request: web.Request) -> web.Response:
        provider = self.provider(request)
        started = time.perf_counter()
        status, data, message = await self.upstream_models(provider["id"])
        return web.json_response(
            {
                "ok": status == 200,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                "status_code": status,
                "error": message or None,
                "models_found": len(data),
            }
        )

    async def models(self, request: web.Request) -> web.Response:
        self.check(request, "models")
        data = []
        for provider_id in self.providers:
            _, models, _ = await self.upstream_models(provider_id)
            data += [
                {**m, "id": f"{provider_id}/{m['id']}", "owned_by": provider_id} for m in models
            ]
        return web.json_response({"object": "list", "data": data})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.check(request, "chat")
        body = await request.json()
        provider_id, _, model = body["model"].partition("/")
        if provider_id not in self.providers:
            raise NotFound("Unknown model.", code="model_not_found", param="model")
        upstream_body = {**body, "model": model}
        async with await self.upstream(
            provider_id, "POST", "/chat/completions", json=upstream_body
        ) as upstream:
            response = web.StreamResponse(
                status=upstream.status,
                headers={
                    "Content-Type": upstream.headers["Content-Type"],
                    "X-Gateway-Provider": provider_id,
                },
            )
            await response.prepare(request)
            try:
                async for piece in upstream.content.iter_any():
                    await response.write(piece)
            except ConnectionResetError:
                pass  # the browser stopped the stream; leaving closes the upstream request
            return response

    async def create_key(self, request: web.Request) -> web.Response:
        self.check(request)
        body = await request.json()
        secret = "gw-" + secrets.token_urlsafe(32)
        key_id = secrets.token_hex(6)
        record = {
            "id": key_id, "name": body["name"], "prefix": secret[:7],
            "scopes": body.get("scopes", ["chat"]), "models": body.get("models", []),
            "rpm": body.get("rpm"), "tpm": body.get("tpm"),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "expires_at": body.get("expires_at"),
        }  # fmt: skip
        self.client_keys[key_id] = {**record, "secret": secret}
        return web.json_response({**record, "key": secret}, status=201)

    async def list_keys(self, request: web.Request) -> web.Response:
        self.check(request)
        data = [{k: v for k, v in r.items() if k != "secret"} for r in self.client_keys.values()]
        return web.json_response({"object": "list", "data": data})

    async def revoke_key(self, request: web.Request) -> web.Response:
        self.check(request)
        if self.client_keys.pop(request.match_info["id"], None) is None:
            raise NotFound("No such key.")
        return web.Response(status=204)


def mount_contract_api(app: web.Application, admin_key: str) -> ContractApi:
    """Add the stand-in routes to ``app`` (before it starts)."""
    api = ContractApi(admin_key)

    async def session_context(app: web.Application) -> Any:
        api.session = aiohttp.ClientSession()
        yield
        await api.session.close()

    app.cleanup_ctx.append(session_context)
    add = app.router.add_route
    add("GET", "/api/v1/templates", api.templates)
    add("GET", "/api/v1/providers", api.list_providers)
    add("POST", "/api/v1/providers", api.create)
    add("PATCH", "/api/v1/providers/{id}", api.update)
    add("PUT", "/api/v1/providers/{id}", api.update)
    add("DELETE", "/api/v1/providers/{id}", api.delete)
    add("GET", "/api/v1/providers/{id}/models", api.provider_models)
    add("POST", "/api/v1/providers/{id}/models/refresh", api.provider_models)
    add("GET", "/api/v1/providers/{id}/health", api.health)
    add("POST", "/api/v1/providers/{id}/test", api.test)
    add("GET", "/api/v1/models", api.models)
    add("POST", "/api/v1/chat/completions", api.chat)
    add("POST", "/api/v1/keys", api.create_key)
    add("GET", "/api/v1/keys", api.list_keys)
    add("DELETE", "/api/v1/keys/{id}", api.revoke_key)
    return api
