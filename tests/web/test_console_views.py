"""The console's views in Chromium, against the real gateway and a fake OpenAI upstream.

One gateway, one upstream and one signed-in page serve the whole module (the tests
run in order and build on each other's state). Chat: answers rendered as sanitized
Markdown with highlighted code, the transcript following the stream, conversations
kept across a reload, regenerate, edit and resend, errors next to their message, the
warning before an oversized history. Forms: the API's refusals next to their field
with what was typed kept, a test before saving, the status strip following changes
and outages. Keys: limits, last use, revoked keys greyed. axe-core on every view.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from gateway.app import create_app
from gateway.ledger.file import FileLedger
from gateway.ledger.record import UsageRecord, day_of
from gateway.settings import Settings
from tests.fakes.console_upstream import (
    BROKEN_MODEL,
    LOG,
    MARKDOWN_MODEL,
    REASONING,
    UpstreamLog,
    create_upstream,
)
from tests.ledger.test_crash import entry_of
from tests.web.conftest import WATCH_CSP, PageProblems, axe_violations, screenshot
from tests.web.live import serve_in_thread

ADMIN_KEY = "admin-chat-0123456789abcdef0123"
PROVIDER_KEY = "sk-fake-provider-key-chat-4d1f0a"


@dataclass
class Console:
    page: Any
    problems: PageProblems
    url: str
    upstream_url: str
    log: UpstreamLog


def admin_call(url: str, method: str, path: str, body: Any = None) -> Any:
    """One admin API call from the test itself (setup that is not under test here)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {ADMIN_KEY}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


SEEDED_KEY = "key_seeded00000001"
SEED_DAYS = 5


def seeded_usage(now: float) -> list[UsageRecord]:
    """Five days of use by two keys of two models, one request in six failing."""
    records = []
    for n in range(60):
        day, model = n % SEED_DAYS, ("fake-mini", "fake-slow")[n % 2]
        status = 500 if n % 6 == 5 else 200
        ended = now - day * 86_400 - n * 30
        records.append(
            UsageRecord(
                time=ended,
                day=day_of(ended),
                request_id=f"seed-{n}",
                key_id=("admin", SEEDED_KEY)[n % 3 == 0],
                provider="fake",
                model=model,
                route="/v1/chat/completions",
                status=status,
                streamed=bool(n % 2),
                prompt_tokens=100 + n,
                completion_tokens=0 if status == 500 else 50 + n,
                cached_tokens=0,
                reasoning_tokens=0,
                cost=None if status == 500 else (1_000_000 + n * 10_000) * 1000,
                latency_ms=120.0 + n,
                ttft_ms=30.0 if n % 2 else None,
                attempts=1,
            )
        )
    return records


def seed_ledger(folder: Path, records: list[UsageRecord]) -> None:
    """Write the records into the file ledger the gateway then starts from."""
    ledger = FileLedger(folder, log_entries=10_000, flush_interval_s=60)
    ledger.load()
    for record in sorted(records, key=lambda r: r.time):  # as they would have ended
        ledger.add([entry_of(record)])
    ledger.flush_sync()


def gateway_settings(root: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="test",
        admin_key=ADMIN_KEY,
        secret_key=Fernet.generate_key().decode(),
        storage={"path": str(root / "data")},
        providers={"dir": str(root / "providers.d")},
        security={"allow_private_upstreams": True},
    )


@pytest.fixture(scope="module")
def console(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    upstream = create_upstream(PROVIDER_KEY, chunk_delay_s=0.01, extra_models=True)
    root = tmp_path_factory.mktemp("console")
    settings = gateway_settings(root)
    seed_ledger(root / "data" / "usage", seeded_usage(time.time()))
    with serve_in_thread(upstream) as upstream_url, serve_in_thread(create_app(settings)) as url:
        admin_call(
            url,
            "POST",
            "/api/v1/providers",
            {
                "id": "fake",
                "name": "Fake",
                "template": "openai",
                "base_url": f"{upstream_url}/v1",
                "api_key": PROVIDER_KEY,
            },
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        page = context.new_page()
        problems = PageProblems()
        page.on("console", problems.on_console)
        page.on("pageerror", problems.on_page_error)
        page.add_init_script(WATCH_CSP)
        page.goto(f"{url}/ui/#chat")
        page.get_by_label("Admin key").fill(ADMIN_KEY)
        page.get_by_label("Keep me signed in for this tab").check()
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Chat", exact=True).wait_for()
        choose_model(page, MARKDOWN_MODEL)
        yield Console(page, problems, url, upstream_url, upstream[LOG])
        context.close()


def choose_model(page: Any, model: str) -> None:
    page.wait_for_function(
        "(id) => [...document.querySelectorAll('#chat-view select option')]"
        ".some((o) => o.value === id)",
        arg=f"fake/{model}",
    )
    page.locator("#chat-view").get_by_label("Model", exact=True).select_option(f"fake/{model}")


def send(page: Any, text: str) -> Any:
    """Send a message; returns the locator of the answer that starts."""
    before = page.locator(".message.assistant").count()
    page.locator("#chat-view").get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()
    page.wait_for_function(
        "(n) => document.querySelectorAll('.message.assistant').length > n", arg=before
    )
    return page.locator(".message.assistant").last


def wait_state(page: Any, answer: Any, state: str) -> None:
    page.wait_for_function(f"(el) => el.dataset.state === '{state}'", arg=answer.element_handle())


def test_markdown_answer_is_rendered_sanitized_and_highlighted(console: Console) -> None:
    page = console.page
    answer = send(page, "Compare a fox and a dog, with code.")
    wait_state(page, answer, "done")
    text = answer.locator(".text")
    assert text.locator("h2").inner_text() == "Results"
    assert text.locator("table th").all_inner_texts() == ["animal", "speed"]
    assert text.locator("table td").all_inner_texts() == ["fox", "50", "dog", "30"]
    assert text.locator("ol > li").count() == 30
    code = text.locator("pre code")
    assert "def fast(animal):" in code.inner_text()
    assert code.locator(".hljs-keyword").first.inner_text() == "def"
    assert code.locator(".hljs-comment").inner_text() == "# quick"
    # The <img onerror> of the answer is shown as text, and never ran.
    assert text.locator("img").count() == 0
    assert '<img src="x" onerror="window.__pwned = true">' in text.inner_text()
    assert page.evaluate("() => window.__pwned === undefined")
    assert page.evaluate("window.__cspViolations") == []
    # Reasoning comes folded above the answer; provider and usage below it.
    reasoning = answer.locator("details.reasoning")
    assert reasoning.get_attribute("open") is None
    assert reasoning.locator(".reasoning-text").text_content().strip() == REASONING
    assert re.fullmatch(
        r"Served by fake · \d+ prompt \+ 90 completion = \d+ tokens",
        answer.locator(".answer-meta").inner_text(),
    )
    answer.get_by_role("button", name="Copy code").click()
    answer.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()").startswith("def fast(animal):")
    reasoning.locator("summary").click()
    screenshot(page, "console-chat-markdown")
    assert axe_violations(page) == []


def test_transcript_follows_the_stream_unless_scrolled_up(console: Console) -> None:
    page = console.page
    scroller = page.locator(".transcript-scroll")
    for turn in range(2):
        answer = send(page, f"Again, turn {turn}.")
        # While the answer streams, its end stays in view, and so does the message box.
        page.wait_for_function(
            "(el) => el.querySelectorAll('.text ol > li').length >= 10",
            arg=answer.element_handle(),
        )
        at_bottom = scroller.evaluate(
            "(el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48"
        )
        assert at_bottom
        wait_state(page, answer, "done")
        assert scroller.evaluate("(el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48")
    box = page.locator("#chat-view").get_by_label("Message", exact=True).bounding_box()
    assert box is not None and box["y"] + box["height"] <= 900
    # Scrolled up while streaming: the view stays where the user put it.
    answer = send(page, "Once more.")
    page.wait_for_function(
        "(el) => el.querySelectorAll('.text ol > li').length >= 3", arg=answer.element_handle()
    )
    scroller.evaluate("(el) => { el.scrollTop = 0; }")
    page.wait_for_timeout(50)
    wait_state(page, answer, "done")
    assert scroller.evaluate("(el) => el.scrollTop") == 0
    assert scroller.evaluate("(el) => el.scrollHeight > el.clientHeight * 2")


def test_escape_stops_a_stream(console: Console) -> None:
    page = console.page
    choose_model(page, "fake-slow")
    answer = send(page, "Count slowly.")
    page.wait_for_function(
        "(el) => el.querySelector('.text').textContent.length > 10", arg=answer.element_handle()
    )
    page.keyboard.press("Escape")
    wait_state(page, answer, "stopped")
    assert "stopped" in answer.locator(".answer-meta").inner_text()
    assert page.get_by_role("button", name="Send").is_enabled()


def test_conversation_survives_a_reload_then_regenerate_and_edit(console: Console) -> None:
    page = console.page
    choose_model(page, MARKDOWN_MODEL)
    count = page.locator(".transcript > li").count()
    assert count == 10
    page.reload()
    page.get_by_role("heading", name="Chat", exact=True).wait_for()
    page.wait_for_function("() => document.querySelectorAll('.transcript > li').length === 10")
    first = page.locator(".transcript > li").first
    assert first.locator(".text").inner_text() == "Compare a fox and a dog, with code."
    listed = page.get_by_role("navigation", name="Conversations").get_by_role("listitem")
    assert listed.count() == 1
    assert listed.first.inner_text().startswith("Compare a fox and a dog")
    assert page.locator(".message.assistant").first.locator("table").count() == 1

    # Regenerate: the last answer is asked again with the same history.
    choose_model(page, MARKDOWN_MODEL)
    sent = len(console.log.chat_bodies)
    page.get_by_role("button", name="Regenerate").click()
    page.wait_for_function(
        "() => document.querySelector('.transcript > li:last-child').dataset.state === 'done'"
    )
    assert len(console.log.chat_bodies) == sent + 1
    again = console.log.chat_bodies[-1]["messages"]
    assert [m["content"] for m in again if m["role"] == "user"][-1] == "Count slowly."
    assert page.locator(".transcript > li").count() == 10
    assert page.locator(".message.assistant").last.locator("table").count() == 1

    # Edit the second question and resend: what came after it is replaced.
    page.locator(".message.user").nth(1).get_by_role("button", name="Edit", exact=True).click()
    prompt = page.locator("#chat-view").get_by_label("Message", exact=True)
    assert prompt.input_value() == "Again, turn 0."
    prompt.fill("Edited question.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.transcript > li').length === 4"
        " && document.querySelector('.transcript > li:last-child').dataset.state === 'done'"
    )
    assert [m["content"] for m in console.log.chat_bodies[-1]["messages"]][-1] == (
        "Edited question."
    )
    assert len(console.log.chat_bodies[-1]["messages"]) == 3

    # Rename, parameters per conversation; nothing secret is in IndexedDB.
    page.get_by_role("button", name=re.compile("^Rename")).click()
    page.locator("#prompt-input").fill("Fox facts")
    page.locator("#prompt").get_by_role("button", name="Save").click()
    listed.get_by_text("Fox facts").wait_for()
    chat = page.locator("#chat-view")
    chat.get_by_text("Parameters of this conversation").click()
    chat.get_by_label("Temperature").fill("0.3")
    chat.get_by_label("Max tokens").fill("500")
    chat.get_by_label("Max tokens").press("Tab")
    send(page, "With parameters.")
    page.wait_for_function(
        "() => document.querySelector('.transcript > li:last-child').dataset.state === 'done'"
    )
    assert console.log.chat_bodies[-1]["temperature"] == 0.3
    assert console.log.chat_bodies[-1]["max_tokens"] == 500
    stored = page.evaluate(
        """() => new Promise((resolve) => {
             const open = indexedDB.open("gateway-console");
             open.onsuccess = () => {
               const tx = open.result.transaction("conversations");
               const all = tx.objectStore("conversations").getAll();
               all.onsuccess = () => resolve(JSON.stringify(all.result));
             };
           })"""
    )
    saved = json.loads(stored)
    assert saved[0]["title"] == "Fox facts" and saved[0]["temperature"] == 0.3
    assert ADMIN_KEY not in stored and PROVIDER_KEY not in stored
    screenshot(page, "console-chat-kept")


def test_error_is_shown_next_to_its_message(console: Console) -> None:
    page = console.page
    choose_model(page, BROKEN_MODEL)
    answer = send(page, "Will you answer?")
    wait_state(page, answer, "error")
    error = answer.locator(".error")
    assert "refuses every question" in error.inner_text()
    assert re.search(r"HTTP 400", error.inner_text())
    # The error text is styled as an error, not as a chat bubble.
    style = error.locator(".error-text").evaluate(
        "(el) => { const s = getComputedStyle(el); return [s.borderTopStyle, s.paddingTop]; }"
    )
    assert style == ["none", "0px"]
    box = error.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 900
    # A failed answer is not sent back as history.
    choose_model(page, MARKDOWN_MODEL)
    page.get_by_role("button", name="Regenerate").click()
    page.wait_for_function(
        "() => document.querySelector('.transcript > li:last-child').dataset.state === 'done'"
    )
    contents = [m["content"] for m in console.log.chat_bodies[-1]["messages"]]
    assert contents[-1] == "Will you answer?" and "" not in contents


def test_an_oversized_history_is_not_sent_without_asking(console: Console) -> None:
    page = console.page
    # A kept conversation of 1,000 messages (about 50,000 tokens), as if from long use.
    page.evaluate(
        """async () => {
          const { saveConversation } = await import("/ui/store.js");
          const messages = [];
          for (let i = 0; i < 1000; i++) {
            const content = `${i} `.padEnd(200, "x");
            messages.push({ role: i % 2 ? "assistant" : "user", content });
          }
          const now = Date.now() + 1000;
          await saveConversation({ id: "long", title: "Long one", created_at: now,
            updated_at: now, model: "fake/fake-markdown", system: "", temperature: null,
            max_tokens: null, messages });
        }"""
    )
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('.transcript > li').length === 1000")
    choose_model(page, MARKDOWN_MODEL)
    sent = len(console.log.chat_bodies)
    prompt = page.locator("#chat-view").get_by_label("Message", exact=True)
    prompt.fill("And now?")
    page.get_by_role("button", name="Send").click()
    dialog = page.locator("#confirm")
    dialog.wait_for()
    assert re.search(r"about [\d,]+ tokens, more than the 32,000 tokens", dialog.inner_text())
    dialog.get_by_role("button", name="Cancel").click()
    assert len(console.log.chat_bodies) == sent and prompt.input_value() == "And now?"
    page.get_by_role("button", name="Send").click()
    dialog.get_by_role("button", name="Send the latest").click()
    page.wait_for_function(
        "() => document.querySelector('.transcript > li:last-child').dataset.state === 'done'"
    )
    body = console.log.chat_bodies[-1]
    assert 100 < len(body["messages"]) < 1000
    assert body["messages"][-1]["content"] == "And now?"
    assert sum(len(m["content"]) for m in body["messages"]) < 32_000 * 4
    assert re.search(
        r"sent the latest \d+ of 1001 messages", page.locator(".answer-meta").last.inner_text()
    )
    assert [e for e in console.problems.errors if "status of 40" not in e] == []
    assert page.evaluate("window.__cspViolations") == []
    # Deleted (after asking): the other kept conversation opens in its place.
    page.get_by_role("button", name="Delete Long one").click()
    page.locator("#confirm").get_by_role("button", name="Delete").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.transcript > li').length < 100"
        " && document.querySelectorAll('.conversation-list > li').length === 1"
    )
    listed = page.get_by_role("navigation", name="Conversations").get_by_role("listitem")
    assert listed.first.inner_text().startswith("Fox facts")


def open_view(page: Any, name: str) -> Any:
    page.get_by_role("link", name=name, exact=True).click()
    view = page.locator(f"#{name.lower()}-view")
    view.wait_for()
    page.wait_for_load_state("networkidle")
    return view


def test_provider_form_errors_sit_next_to_their_field_and_keep_what_was_typed(
    console: Console,
) -> None:
    page = console.page
    view = open_view(page, "Providers")
    page.get_by_role("button", name="Add provider").click()
    form = page.locator("form.editor")
    form.get_by_label("Template").select_option("openai")
    form.get_by_label("Name", exact=True).fill("Second")
    form.get_by_label("ID (optional)", exact=True).fill("second")
    # A URL the browser accepts and the gateway refuses.
    form.get_by_label("Base URL", exact=True).fill("ftp://files.example/v1")
    key_field = form.get_by_label("API key", exact=True)
    key_field.fill("sk-typed-before-refusal-1234")
    form.get_by_role("button", name="Add provider").click()
    note = form.locator(".field-error")
    note.wait_for()
    base_url = form.get_by_label("Base URL", exact=True)
    assert base_url.get_attribute("aria-invalid") == "true"
    assert note.get_attribute("id") in (base_url.get_attribute("aria-describedby") or "")
    # The note is in the Base URL field's own row.
    assert note.evaluate("(el) => el.closest('.field').querySelector('input').name") == "base_url"
    assert "base_url" in note.inner_text()
    assert base_url.input_value() == "ftp://files.example/v1"
    assert key_field.input_value() == "sk-typed-before-refusal-1234"
    assert form.get_by_label("Name", exact=True).input_value() == "Second"
    screenshot(page, "console-provider-field-error")
    assert axe_violations(page) == []

    # Test before saving: the unsaved values are checked; nothing is stored.
    base_url.fill(console.upstream_url + "/v1")
    form.get_by_role("button", name="Test before saving").click()
    result = form.locator(".result")
    page.wait_for_function("(el) => el.dataset.ok !== undefined", arg=result.element_handle())
    assert result.get_attribute("data-ok") == "false"
    assert re.match(r"Failed \(HTTP 401\): ", result.inner_text())
    assert form.locator(".field-error").count() == 0
    assert base_url.get_attribute("aria-invalid") is None
    key_field.fill(PROVIDER_KEY)
    form.get_by_role("button", name="Test before saving").click()
    page.wait_for_function("(el) => el.dataset.ok === 'true'", arg=result.element_handle())
    assert re.match(r"Connected in [\d.]+ ms; 4 models found\.", result.inner_text())
    ids = [p["id"] for p in admin_call(console.url, "GET", "/api/v1/providers")["data"]]
    assert ids == ["fake"]

    # Saving it refreshes the status strip at once (no view change, no 15 s wait).
    status = page.locator("#status")
    assert "providers: 1 total" in status.inner_text()
    form.get_by_role("button", name="Add provider").click()
    view.locator('[data-provider-id="second"]').wait_for()
    page.wait_for_function(
        "() => document.querySelector('#status').textContent.includes('providers: 2 total')"
    )
    assert PROVIDER_KEY not in page.content()


def test_a_dns_failure_and_a_refused_connection_read_differently(console: Console) -> None:
    page = console.page
    open_view(page, "Providers")
    page.get_by_role("button", name="Add provider").click()
    form = page.locator("form.editor")
    form.get_by_label("Template").select_option("openai")
    form.get_by_label("API key", exact=True).fill("sk-not-used-0000")
    result = form.locator(".result")
    texts = []
    for base_url in ("http://no-such-host.invalid/v1", "http://127.0.0.1:9/v1"):
        form.get_by_label("Base URL", exact=True).fill(base_url)
        form.get_by_role("button", name="Test before saving").click()
        page.wait_for_function("(el) => el.dataset.ok === 'false'", arg=result.element_handle())
        texts.append(result.inner_text())
        page.evaluate("(el) => { delete el.dataset.ok; }", result.element_handle())
    assert "could not be resolved" in texts[0] and "refused" in texts[1], texts
    form.get_by_role("button", name="Cancel").click()


def test_status_strip_says_at_once_when_the_gateway_is_unreachable(console: Console) -> None:
    page = console.page
    status = page.locator("#status")
    assert status.get_attribute("data-state") == "ok"
    page.route("**/api/v1/**", lambda route: route.abort("connectionrefused"))
    page.get_by_role("button", name="Reload").click()
    page.wait_for_function("() => document.querySelector('#status').dataset.state === 'bad'")
    assert status.inner_text().startswith("Gateway unreachable")
    page.unroute("**/api/v1/**")
    page.get_by_role("button", name="Reload").click()
    page.wait_for_function("() => document.querySelector('#status').dataset.state === 'ok'")


def test_keys_show_limits_use_and_revocation(console: Console) -> None:
    page = console.page
    view = open_view(page, "Keys")
    view.get_by_label("Name", exact=True).fill("limited")
    view.get_by_label("Requests per minute").fill("60")
    view.get_by_label("Allowed models").fill("fake/fake-mini")
    view.get_by_label("Budget (USD)").fill("2000000000")
    page.get_by_role("button", name="Create key").click()
    # Refused by the gateway: the note sits by the field, the values stay.
    note = view.locator(".field-error")
    note.wait_for()
    assert "less than or equal to 1000000000" in note.inner_text()
    assert view.get_by_label("Budget (USD)").get_attribute("aria-invalid") == "true"
    assert view.get_by_label("Name", exact=True).input_value() == "limited"
    view.get_by_label("Budget (USD)").fill("")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("New key (shown only once)").input_value()
    assert view.locator(".field-error").count() == 0
    page.get_by_role("button", name="I have saved it").click()
    row = view.locator("tr", has_text="limited")
    assert "60 rpm" in row.inner_text() and "models: fake/fake-mini" in row.inner_text()
    # Used once, then revoked: it stays listed, greyed, with the time.
    used = f"""async () => (await fetch('/api/v1/models',
                 {{ headers: {{ Authorization: 'Bearer {secret}' }} }})).status"""
    assert page.evaluate(used) == 200
    chat = """async (key) => (await fetch('/v1/chat/completions', { method: 'POST',
                 headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
                 body: JSON.stringify({ model: 'fake/fake-mini',
                                        messages: [{ role: 'user', content: 'hi' }] }) })).status"""
    assert page.evaluate(chat, secret) == 200
    view.get_by_role("button", name="Reload keys").click()
    page.wait_for_function(
        "() => /1 requests this month/.test(document.querySelector('#keys-view tr .spend')"
        "?.textContent ?? '')"
    )
    assert row.locator("td").nth(4).inner_text() != "—"  # last used
    row.get_by_role("button", name="Revoke").click()
    page.locator("#confirm").get_by_role("button", name="Revoke").click()
    view.locator("tr.revoked", has_text="limited").wait_for()
    assert re.search(r"Revoked \S", row.inner_text())
    color = row.locator("td").nth(2).evaluate("(el) => getComputedStyle(el).color")
    assert color == "rgb(87, 96, 106)"
    headers = view.locator("thead th").all_inner_texts()
    assert all(h.strip() for h in headers) and "Status" in headers
    assert page.evaluate(used) == 401
    screenshot(page, "console-keys")
    assert axe_violations(page) == []


def test_usage_view_draws_seeded_usage_and_pages_the_log(console: Console) -> None:
    page = console.page
    records = seeded_usage(time.time())
    view = open_view(page, "Usage")
    totals = view.get_by_label("Totals for the range")
    # Chart.js loads on first use, after the totals.
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('#usage-view canvas'))"
    )
    facts = dict(
        zip(
            totals.locator("dt").all_inner_texts(),
            totals.locator("dd").all_inner_texts(),
            strict=True,
        )
    )
    # The module's chats add to the seeded requests (every one of them is metered).
    seeded_prompt = sum(r.prompt_tokens for r in records)
    assert int(facts["Requests"].replace(",", "")) >= len(records)
    assert int(facts["Errors"].replace(",", "")) >= 10
    assert int(facts["Prompt tokens"].replace(",", "")) >= seeded_prompt
    assert facts["Cost"].startswith("$")
    # Both charts are drawn: a bar per day of the range, a stack per model.
    charts = page.evaluate(
        """() => [...document.querySelectorAll('#usage-view canvas')].map((canvas) => {
             const chart = Chart.getChart(canvas);
             const pixels = canvas.getContext('2d')
               .getImageData(0, 0, canvas.width, canvas.height).data;
             let inked = 0;
             for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) inked++;
             return { labels: chart.data.labels.length,
                      stacks: chart.data.datasets.map((d) => d.label),
                      sums: chart.data.datasets.map((d) => d.data.reduce((a, b) => a + b, 0)),
                      inked };
           })"""
    )
    cost, tokens = charts
    assert cost["labels"] == tokens["labels"] == 14
    assert {"fake-mini", "fake-slow"} <= set(cost["stacks"])
    mini = cost["stacks"].index("fake-mini")
    seeded_mini_cost = sum((r.cost or 0) for r in records if r.model == "fake-mini") / 1e12
    assert abs(cost["sums"][mini] - seeded_mini_cost) < 1e-9
    # Tokens: the seeded ones plus this module's own fake-mini chats, as the API counts them.
    by_model = admin_call(console.url, "GET", "/api/v1/usage?group_by=model")["data"]
    (counted,) = [r for r in by_model if r["model"] == "fake-mini"]
    mini_tokens = counted["prompt_tokens"] + counted["completion_tokens"]
    assert mini_tokens >= sum(r.tokens for r in records if r.model == "fake-mini")
    assert tokens["sums"][tokens["stacks"].index("fake-mini")] == mini_tokens
    assert cost["inked"] > 2000 and tokens["inked"] > 2000
    # Stacked by key instead: the seeded key and the admin key.
    view.get_by_label("Stack by").select_option("key")
    view.get_by_role("button", name="Show").click()
    page.wait_for_function(
        "() => Chart.getChart(document.querySelector('#usage-view canvas'))"
        ".data.datasets.some((d) => d.label === 'key_seeded00000001')"
    )
    screenshot(page, "console-usage")
    assert axe_violations(page) == []

    # The request log: newest first, filtered by status and key, paged with "Older entries".
    log = view.locator("table.log tbody tr")
    log.first.wait_for()
    assert log.count() == 50
    view.get_by_label("Status").select_option("error")
    view.get_by_role("button", name="Filter").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('table.log tbody tr')]"
        ".every((tr) => tr.dataset.status === 'error')"
    )
    # The seeded failures (and the refused chat of the error test, when it ran before).
    assert log.count() >= sum(r.status >= 400 for r in records)
    view.get_by_label("Status").select_option("")
    view.get_by_label("Model", exact=True).fill("fake-slow")
    view.get_by_role("button", name="Filter").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('table.log tbody tr td.mono')]"
        ".every((td) => td.textContent === 'fake-slow')"
    )
    view.get_by_label("Model", exact=True).fill("")
    view.get_by_role("button", name="Filter").click()
    page.wait_for_function("() => document.querySelectorAll('table.log tbody tr').length === 50")
    times = page.evaluate(
        "() => [...document.querySelectorAll('table.log tbody tr td:first-child')]"
        ".map((td) => Date.parse(td.textContent))"
    )
    view.get_by_role("button", name="Older entries").click()
    page.wait_for_function("() => document.querySelectorAll('table.log tbody tr').length > 50")
    assert log.count() > 50
    assert times == sorted(times, reverse=True)


def test_every_view_passes_axe_at_phone_size(console: Console) -> None:
    page = console.page
    page.set_viewport_size({"width": 375, "height": 740})
    try:
        for name in ("Providers", "Chat", "Keys", "Usage"):
            open_view(page, name)
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, name
            assert axe_violations(page) == [], name
            if name == "Chat":
                screenshot(page, "console-chat-375px")
        page.get_by_role("button", name="Sign out").click()
        page.get_by_label("Admin key").wait_for()
        assert axe_violations(page) == []
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
