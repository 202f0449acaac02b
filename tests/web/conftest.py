"""Browser fixtures: Debian's chromium driven by Playwright's sync API.

A missing browser fails the run (in CI and locally alike): these tests never skip.
`make test` installs chromium (scripts/ensure-system-deps.sh) and Playwright (dev extra).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# The shared journey lives outside test modules; keep pytest's detailed assertions there.
pytest.register_assert_rewrite("tests.web.console_flow", "tests.web.live")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Collects CSP violations from the first moment of every page (init scripts are not
# subject to the page's CSP, and this one only listens).
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@dataclass
class PageProblems:
    """Console errors and uncaught exceptions seen by one page."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message: Any) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.errors.append(f"console: {message.text} {where}".rstrip())

    def on_page_error(self, error: Any) -> None:
        self.errors.append(f"pageerror: {error}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One browser per module: sync Playwright holds a running loop in this thread while it
    is open, so it must be closed before any later asyncio test runs."""
    if not CHROMIUM.exists():
        where = "CI" if os.environ.get("CI") == "true" else "this machine"
        pytest.fail(
            f"{CHROMIUM} is missing on {where}: run `make test` (scripts/ensure-system-deps.sh "
            "installs Debian's chromium)",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., tuple[Any, PageProblems]]]:
    """Open pages in fresh contexts; each page reports its console errors."""
    contexts: list[Any] = []

    def open_one(width: int = 1280, height: int = 900) -> tuple[Any, PageProblems]:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        problems = PageProblems()
        page.on("console", problems.on_console)
        page.on("pageerror", problems.on_page_error)
        page.add_init_script(WATCH_CSP)
        return page, problems

    yield open_one
    for context in contexts:
        context.close()


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Any) -> list[str]:
    """Run axe-core (installed by `npm ci`) on the page as it is now: one line per violation.

    It is evaluated through the DevTools protocol, so the console's CSP stays as it is.
    """
    if not page.evaluate("() => Boolean(window.axe)"):
        page.evaluate(AXE.read_text())
    found = page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
              .map((v) => `${v.id} (${v.impact}): ${v.help} at `
                 + v.nodes.map((n) => n.target.join(" ")).join(", "))"""
    )
    return list(found)


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def gateway_url(make_settings: Callable[..., Any]) -> Iterator[str]:
    """The real gateway app, served over HTTP from a background thread."""
    from gateway.app import create_app
    from tests.web.live import serve_in_thread

    with serve_in_thread(create_app(make_settings())) as url:
        yield url


SECURED_ADMIN_KEY = "console-admin-key-0123456789abcdef"


@pytest.fixture
def secured_gateway_url(make_settings: Callable[..., Any]) -> Iterator[str]:
    """The real gateway with an admin key set, so sign-in can be refused."""
    from gateway.app import create_app
    from tests.web.live import serve_in_thread

    with serve_in_thread(create_app(make_settings(admin_key=SECURED_ADMIN_KEY))) as url:
        yield url
