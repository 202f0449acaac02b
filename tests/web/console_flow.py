"""The console's whole user journey in a browser, against the real gateway APIs
(tests/web/test_console_e2e.py): sign in, add a provider from a template, see its
models, chat with a streamed answer, stop a stream, create and revoke a key, edit and
delete the provider; then check the provider key leaked nowhere.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.console_upstream import ANSWER, UpstreamLog
from tests.web.conftest import PageProblems, screenshot

# Test instrumentation, installed before the console's own scripts: every body that
# fetch() hands to the page is also teed into window.__fetchBodies (streams included,
# which Chromium's network events do not keep).
TEE_FETCH = """
window.__fetchBodies = [];
const originalFetch = window.fetch;
window.fetch = async (...args) => {
  const response = await originalFetch(...args);
  const entry = { url: response.url, status: response.status, body: "", end: null };
  window.__fetchBodies.push(entry);
  const copy = response.clone().body;
  if (!copy) { entry.end = "empty"; return response; }
  const reader = copy.getReader();
  const decoder = new TextDecoder();
  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        entry.body += decoder.decode(value, { stream: true });
      }
      entry.end = "complete";
    } catch (error) {
      entry.end = error.name;  // an aborted stream keeps what arrived before the abort
    }
  })();
  return response;
};
"""


@dataclass
class Network:
    """Every response the page received, read after the journey."""

    responses: list[Any] = field(default_factory=list)

    def record(self, response: Any) -> None:
        self.responses.append(response)

    def bodies(self) -> tuple[list[tuple[str, bytes]], list[str]]:
        read, unreadable = [], []
        for response in self.responses:
            if response.status in (204, 304):
                continue
            try:
                read.append((response.url, response.body()))
            except Exception:
                unreadable.append(response.url)
        return read, unreadable


def wait_until(predicate: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def sign_in(page: Any, base_url: str, admin_key: str) -> None:
    page.goto(f"{base_url}/ui/#providers")
    page.get_by_label("Admin key").fill(admin_key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Providers").wait_for()
    assert page.get_by_label("Admin key").input_value() == ""


def add_provider(page: Any, upstream_url: str, provider_key: str) -> Any:
    page.get_by_role("button", name="Add provider").click()
    form = page.locator("form.editor")
    form.get_by_label("Template").select_option("openai")
    # The form is built from the template: its base URL is prefilled, the key is required.
    prefilled = form.get_by_label("Base URL", exact=True).input_value()
    assert prefilled.startswith("https://api.openai.com")
    key_field = form.get_by_label("API key", exact=True)
    assert key_field.get_attribute("type") == "password"
    assert key_field.get_attribute("required") is not None
    form.get_by_label("Name", exact=True).fill("Fake upstream")
    form.get_by_label("ID (optional)", exact=True).fill("fake")
    form.get_by_label("Base URL", exact=True).fill(f"{upstream_url}/v1")
    key_field.fill(provider_key)
    form.get_by_role("button", name="Add provider").click()
    card = page.locator('[data-provider-id="fake"]')
    card.wait_for()
    assert page.locator("form.editor").count() == 0
    assert "Fake upstream" in card.inner_text()
    assert re.search(r"API key\s+set \(", card.inner_text())
    return card


def check_provider_tools(page: Any, card: Any) -> None:
    badge = card.locator(".badge").first
    page.wait_for_function(
        "(el) => el.dataset.status !== 'unknown' || el.textContent !== 'checking…'",
        arg=badge.element_handle(),
    )
    assert badge.get_attribute("data-status") in {"healthy", "degraded", "unknown", "unhealthy"}
    card.get_by_role("button", name="Test connection").click()
    result = card.locator(".result")
    page.wait_for_function("(el) => el.dataset.ok !== undefined", arg=result.element_handle())
    assert result.get_attribute("data-ok") == "true", result.inner_text()
    assert re.match(r"Connected in [\d.]+ ms; 2 models found\.", result.inner_text())

    card.get_by_role("button", name="Models").click()
    models = card.get_by_role("list", name="Models of Fake upstream")
    models.wait_for()
    assert sorted(models.locator("li").all_inner_texts()) == ["fake-mini", "fake-slow"]
    card.get_by_role("button", name="Refresh models").click()
    card.get_by_role("button", name="Refresh models").wait_for()
    assert sorted(models.locator("li").all_inner_texts()) == ["fake-mini", "fake-slow"]
    assert "fresh" in card.locator(".models .hint").inner_text()


def edit_provider(page: Any, card: Any) -> Any:
    card.get_by_role("button", name="Edit").click()
    form = page.locator("form.editor")
    assert form.get_by_label("API key", exact=True).input_value() == ""
    form.get_by_label("Name", exact=True).fill("Fake upstream (edited)")
    form.get_by_label("Priority", exact=True).fill("5")
    form.get_by_role("button", name="Save changes").click()
    form.wait_for(state="detached")
    card = page.locator('[data-provider-id="fake"]')
    page.wait_for_function(
        "() => document.querySelector('[data-provider-id=fake] h3').textContent"
        " === 'Fake upstream (edited)'"
    )
    # The key was left empty, so the stored key is kept.
    assert re.search(r"API key\s+set \(", card.inner_text())
    assert re.search(r"Priority / weight\s+5 / 1", card.inner_text())
    return card


def chat_streams_progressively(page: Any) -> None:
    page.get_by_role("link", name="Chat").click()
    chat = page.locator("#chat-view")
    model = chat.get_by_label("Model", exact=True)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#chat-view select option')]"
        ".some((o) => o.value === 'fake/fake-mini')"
    )
    model.select_option("fake/fake-mini")
    # Record every length the answer text takes while it streams in.
    page.evaluate(
        """() => {
          window.__lengths = [];
          new MutationObserver(() => {
            const answer = document.querySelector('.message.assistant:last-child .text');
            if (answer) window.__lengths.push(answer.textContent.length);
          }).observe(document.querySelector('.transcript'),
                     { subtree: true, childList: true, characterData: true });
        }"""
    )
    chat.get_by_label("Message", exact=True).fill("Tell me about the fox.")
    page.get_by_role("button", name="Send").click()
    answer = page.locator(".message.assistant").last
    page.wait_for_function(
        "(el) => el.dataset.state === 'streaming' && el.querySelector('.text').textContent",
        arg=answer.element_handle(),
    )
    partial = answer.locator(".text").inner_text()
    assert page.get_by_role("button", name="Stop").is_enabled()
    page.wait_for_function("(el) => el.dataset.state === 'done'", arg=answer.element_handle())
    final = answer.locator(".text").inner_text().strip()
    assert final == ANSWER
    assert 0 < len(partial) < len(ANSWER) and ANSWER.startswith(partial)
    lengths = page.evaluate("window.__lengths")
    distinct = sorted(set(lengths) - {0, len(ANSWER)})
    assert len(distinct) >= 5, lengths
    meta = page.locator(".meta").inner_text()
    assert meta.startswith("Served by fake")
    assert re.search(r"usage: 7 prompt \+ \d+ completion = \d+ tokens", meta)
    assert page.get_by_role("button", name="Stop").is_disabled()


def stop_a_stream(page: Any, upstream_log: UpstreamLog) -> None:
    chat = page.locator("#chat-view")
    chat.get_by_label("Model", exact=True).select_option("fake/fake-slow")
    chat.get_by_label("Message", exact=True).fill("Count slowly.")
    page.get_by_role("button", name="Send").click()
    answer = page.locator(".message.assistant").last
    page.wait_for_function(
        "(el) => el.querySelector('.text').textContent.length > 10", arg=answer.element_handle()
    )
    page.get_by_role("button", name="Stop").click()
    page.wait_for_function("(el) => el.dataset.state === 'stopped'", arg=answer.element_handle())
    stopped_at = answer.locator(".text").inner_text()
    assert stopped_at.startswith("w0 w1")
    assert page.get_by_role("button", name="Send").is_enabled()
    assert page.get_by_role("button", name="Stop").is_disabled()
    # The gateway let go of the upstream as well, and nothing more arrives in the page.
    wait_until(lambda: "fake-slow" in upstream_log.disconnects, timeout_s=5)
    page.wait_for_timeout(300)
    assert answer.locator(".text").inner_text() == stopped_at


def create_and_revoke_key(page: Any, base_url: str) -> None:
    page.get_by_role("link", name="Keys").click()
    view = page.locator("#keys-view")
    view.get_by_label("Name", exact=True).fill("ci-client")
    view.get_by_label("models", exact=True).check()
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_label("New key (shown only once)")
    shown.wait_for()
    secret = shown.input_value()
    assert secret.startswith("gw-") and len(secret) >= 40
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    row = page.locator("tr", has_text="ci-client")
    row.wait_for()
    assert "chat" in row.inner_text() and "models" in row.inner_text()
    assert secret not in row.inner_text()
    check = f"""async () => (await fetch('{base_url}/api/v1/models',
                 {{ headers: {{ Authorization: 'Bearer {secret}' }} }})).status"""
    assert page.evaluate(check) == 200

    page.get_by_role("button", name="I have saved it").click()
    assert page.get_by_label("New key (shown only once)").count() == 0
    row.get_by_role("button", name="Revoke").click()
    page.locator("#confirm").get_by_role("button", name="Revoke").click()
    # A revoked key stays listed, greyed, with the time it was revoked.
    page.locator("tr.revoked", has_text="ci-client").wait_for()
    assert re.search(r"Revoked \S", row.inner_text())
    assert row.get_by_role("button", name="Revoke").count() == 0
    assert page.evaluate(check) == 401


def delete_provider(page: Any) -> None:
    page.get_by_role("link", name="Providers").click()
    card = page.locator('[data-provider-id="fake"]')
    card.get_by_role("button", name="Delete").click()
    dialog = page.locator("#confirm")
    assert "Delete provider" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    assert card.is_visible()
    card.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    card.wait_for(state="detached")


def assert_key_leaked_nowhere(page: Any, network: Network, provider_key: str) -> None:
    """DOM, form values, storage, cookies and every response body the page received."""
    assert provider_key not in page.content()
    values = page.evaluate(
        "() => [...document.querySelectorAll('input, textarea, select')].map((e) => e.value)"
    )
    assert all(provider_key not in value for value in values)
    storage = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert provider_key not in storage
    assert provider_key not in json.dumps(page.context.cookies())
    bodies, unreadable = network.bodies()
    assert len(bodies) >= 20
    assert any("/api/v1/providers" in url for url, _ in bodies)
    for url, body in bodies:
        assert provider_key.encode() not in body, url
    # Chromium keeps no body for event streams; the fetch tee has every one of them.
    assert all(url.endswith("/api/v1/chat/completions") for url in unreadable), unreadable
    teed = page.evaluate("window.__fetchBodies")
    streams = [e for e in teed if e["url"].endswith("/api/v1/chat/completions")]
    assert len(streams) == 2
    assert ANSWER.split()[-1] in streams[0]["body"] and "[DONE]" in streams[0]["body"]
    assert streams[0]["end"] == "complete" and streams[1]["end"] == "AbortError"
    assert '"content": " w1"' in streams[1]["body"]
    assert len(teed) >= 20
    for entry in teed:
        assert entry["end"] is not None, entry["url"]
        assert provider_key not in entry["body"], entry["url"]


def run_console_journey(
    page: Any,
    problems: PageProblems,
    base_url: str,
    upstream_url: str,
    upstream_log: UpstreamLog,
    admin_key: str,
    provider_key: str,
    name: str,
) -> None:
    network = Network()
    page.on("response", network.record)
    page.add_init_script(TEE_FETCH)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)

    sign_in(page, base_url, admin_key)
    card = add_provider(page, upstream_url, provider_key)
    # The strip refreshes when the view changes; /api/v1/health has a providers summary.
    page.get_by_role("link", name="Keys").click()
    page.get_by_role("link", name="Providers").click()
    page.get_by_text(re.compile(r"providers: 1 total")).wait_for()
    check_provider_tools(page, card)
    edit_provider(page, card)
    screenshot(page, f"{name}-providers")
    assert f"Bearer {provider_key}" in upstream_log.authorizations

    chat_streams_progressively(page)
    stop_a_stream(page, upstream_log)
    screenshot(page, f"{name}-chat")

    create_and_revoke_key(page, base_url)
    screenshot(page, f"{name}-keys")
    delete_provider(page)

    assert_key_leaked_nowhere(page, network, provider_key)
    assert page.evaluate("window.__cspViolations") == []
    unexpected = [e for e in problems.errors if "status of 401" not in e]
    assert unexpected == []
