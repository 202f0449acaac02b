"""The web console at /ui/: static files shipped in the package, under their own CSP.

Every file is read once at start-up into a table keyed by its relative path, so a
request can only ever name a file that is in the table: no file system access and
no path arithmetic happen per request, which rules out directory traversal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from aiohttp import web

from gateway.endpoints import Operation, add_route
from gateway.errors import NotFound
from gateway.routes.common import text_answer

UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".ts": "application/typescript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


UI_ASSETS = web.AppKey("ui_assets", dict[str, Asset])


def load_assets(root: Traversable) -> dict[str, Asset]:
    """Every servable file under ``root`` by its relative path (two levels deep at most)."""
    assets: dict[str, Asset] = {}
    for entry in root.iterdir():
        if entry.is_dir():
            for child in entry.iterdir():
                _add(assets, f"{entry.name}/{child.name}", child)
        else:
            _add(assets, entry.name, entry)
    return assets


def _add(assets: dict[str, Asset], relative: str, entry: Traversable) -> None:
    suffix = ".ts" if relative.endswith(".d.ts") else "." + relative.rpartition(".")[2]
    content_type = CONTENT_TYPES.get(suffix)
    if content_type is not None and entry.is_file():
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[relative] = Asset(body, content_type, etag)


def _serve(request: web.Request, relative: str) -> web.Response:
    asset = request.app[UI_ASSETS].get(relative)
    if asset is None:
        raise NotFound("No such file in the console.")
    headers = {"Content-Security-Policy": UI_CSP, "Cache-Control": "no-cache", "ETag": asset.etag}
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = asset.content_type
    return web.Response(body=asset.body, headers=headers)


async def index(request: web.Request) -> web.Response:
    return _serve(request, "index.html")


async def top_asset(request: web.Request) -> web.Response:
    return _serve(request, request.match_info["name"])


async def nested_asset(request: web.Request) -> web.Response:
    return _serve(request, f"{request.match_info['folder']}/{request.match_info['name']}")


async def to_console(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ui/")


_ASSET_RESPONSES: Mapping[int, str | Mapping[str, Any]] = {
    200: text_answer(
        "A static file (HTML, CSS, JavaScript or TypeScript declarations)", "text/plain"
    ),
    304: "Unchanged since the ETag the client holds",
    404: "No such file",
}


def setup(app: web.Application) -> None:
    app[UI_ASSETS] = load_assets(resources.files("gateway.web").joinpath("ui"))
    redirect = Operation(
        summary="Redirect to the web console", tag="console", responses={302: "To /ui/"}
    )
    add_route(app, "GET", "/", to_console, group="public", operation=redirect)
    add_route(app, "GET", "/ui", to_console, group="public", operation=redirect)
    add_route(
        app,
        "GET",
        "/ui/",
        index,
        group="public",
        operation=Operation(
            summary="The web console",
            tag="console",
            responses={200: text_answer("HTML page", "text/html")},
        ),
    )
    asset = Operation(
        summary="A file of the web console", tag="console", responses=_ASSET_RESPONSES
    )
    add_route(app, "GET", "/ui/{name}", top_asset, group="public", operation=asset)
    add_route(app, "GET", "/ui/{folder}/{name}", nested_asset, group="public", operation=asset)
