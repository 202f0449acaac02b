"""/ui/ serves the console's files from the package, under the console's own CSP."""

from __future__ import annotations

import json
import os
import re
import subprocess
from importlib import resources
from pathlib import Path

from gateway.routes.ui import UI_CSP, load_assets


async def test_root_and_bare_ui_redirect_to_the_console(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/", "/ui"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 302
        assert response.headers["Location"] == "/ui/"


async def test_index_carries_the_console_csp_and_the_other_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/ui/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Content-Security-Policy"] == UI_CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Request-ID"]
    html = await response.text()
    # No inline script or style: everything the page uses is a same-origin file.
    assert "<style" not in html and " style=" not in html
    assert all(re.search(r"\bsrc=", tag) for tag in re.findall(r"<script[^>]*>", html))
    for asset in re.findall(r'(?:src|href)="(/ui/[^"]+)"', html):
        assert (await client.get(asset)).status == 200, asset


async def test_assets_have_their_content_types(client) -> None:  # type: ignore[no-untyped-def]
    expected = {
        "/ui/app.js": "text/javascript; charset=utf-8",
        "/ui/app.css": "text/css; charset=utf-8",
        "/ui/api/client.js": "text/javascript; charset=utf-8",
        "/ui/api/client.d.ts": "application/typescript; charset=utf-8",
        "/ui/views/chat.js": "text/javascript; charset=utf-8",
        "/ui/favicon.svg": "image/svg+xml",
    }
    for path, content_type in expected.items():
        response = await client.get(path)
        assert response.status == 200, path
        assert response.headers["Content-Type"] == content_type
    body = await (await client.get("/ui/api/client.js")).read()
    packaged = resources.files("gateway.web").joinpath("ui/api/client.js").read_bytes()
    assert body == packaged


async def test_only_console_files_are_served(client) -> None:  # type: ignore[no-untyped-def]
    attempts = [
        "/ui/__init__.py",
        "/ui/%2e%2e/__init__.py",
        "/ui/%2e%2e/docs/docs.js",
        "/ui/..%2f..%2fapp.py",
        "/ui/api/%2e%2e%2f%2e%2e%2fapp.py",
        "/ui/views/..%2F..%2F..%2Fsettings.py",
        "/ui/%2fetc%2fpasswd",
        "/ui/missing.js",
        "/ui/api/missing.js",
    ]
    for path in attempts:
        response = await client.get(path)
        assert response.status == 404, path
        body = await response.json()
        assert body["error"]["code"] == "not_found"


async def test_console_routes_are_documented(client) -> None:  # type: ignore[no-untyped-def]
    document = await (await client.get("/api/v1/openapi.json")).json()
    for path in ("/", "/ui", "/ui/", "/ui/{name}", "/ui/{folder}/{name}"):
        assert "get" in document["paths"][path], path


async def test_assets_revalidate_with_their_etag(client) -> None:  # type: ignore[no-untyped-def]
    first = await client.get("/ui/app.js")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    again = await client.get("/ui/app.js", headers={"If-None-Match": etag})
    assert again.status == 304
    assert await again.read() == b""
    other = await client.get("/ui/app.css", headers={"If-None-Match": etag})
    assert other.status == 200
    assert other.headers["ETag"] != etag


async def test_console_policy_forbids_inline_script_and_eval(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/ui/")
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in filter(None, (p.strip() for p in policy.split(";"))):
        name, _, value = part.partition(" ")
        directives[name] = value
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert "unsafe" not in policy and "*" not in policy
    html = await response.text()
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE)  # no inline event handlers


def test_console_scripts_use_no_eval_local_storage_or_cookies() -> None:
    """The console's own scripts (vendor/ holds the pinned libraries, checked below)."""
    ui = Path(__file__).resolve().parents[2] / "gateway" / "web" / "ui"
    scripts = [s for s in ui.rglob("*.js") if "vendor" not in s.relative_to(ui).parts]
    assert len(scripts) >= 5
    for script in scripts:
        source = script.read_text()
        assert not re.search(r"\beval\(|new Function\(|localStorage|document\.cookie", source)


def test_vendored_libraries_are_the_pinned_npm_builds(tmp_path: Path) -> None:
    """gateway/web/ui/vendor/ is what `make vendor` copies from node_modules (npm ci)."""
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        ["sh", "scripts/vendor-web.sh"],
        cwd=root,
        env={**os.environ, "VENDOR_OUT": str(tmp_path)},
        check=True,
    )
    vendored = root / "gateway" / "web" / "ui" / "vendor"
    names = sorted(p.name for p in vendored.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    for name in names:
        assert (vendored / name).read_bytes() == (tmp_path / name).read_bytes(), name
    assert {"marked.js", "purify.js", "highlight.js", "chart.js"} <= set(names)
    served = load_assets(resources.files("gateway.web").joinpath("ui"))
    assert served["vendor/marked.js"].content_type.startswith("text/javascript")
    assert served["vendor/highlight-github.css"].content_type.startswith("text/css")
    assert sum(name.startswith("LICENSE-") for name in names) == 4
    lock = json.loads((root / "package-lock.json").read_text())["packages"]
    versions = (vendored / "VERSIONS.txt").read_text()
    for package in ("marked", "dompurify", "@highlightjs/cdn-assets", "chart.js"):
        assert f"{package} {lock[f'node_modules/{package}']['version']}" in versions
