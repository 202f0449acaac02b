"""A Claude Code session replayed through the gateway against a fake OpenAI-compatible upstream.

The operator maps Claude's model names to the upstream's with the shipped
example, providers.d/claude-code.yaml.example; the session's requests
(tests/messages/claude_code.py) go in as Claude Code sends them, and every event
that comes back is checked, block by block.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiohttp.test_utils import TestClient

from gateway.adapters.base import JSON
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.base import API_KEY, Reply
from tests.fakes.openai_upstream import FakeOpenAI
from tests.messages import claude_code
from tests.messages.helpers import check_stream, final_delta, parse_events
from tests.providers_d import QUIET, SERVER_KWARGS

GATEWAY_KEY = "gw-key-claude-code-replay"


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        assert isinstance(fake, FakeOpenAI)
        yield fake


EXAMPLE = Path(__file__).resolve().parents[2] / "providers.d" / "claude-code.yaml.example"


@pytest.fixture
async def gateway(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], upstream: FakeOpenAI
) -> TestClient[Any, Any]:
    """The gateway with the shipped example provider file, pointed at the fake upstream."""
    settings = make_settings(admin_key=GATEWAY_KEY, **QUIET)
    provider = yaml.safe_load(EXAMPLE.read_text())
    provider.update(base_url=upstream.url, api_key=API_KEY)
    settings.providers.dir.mkdir(parents=True)
    (settings.providers.dir / "claude-code.yaml").write_text(yaml.safe_dump(provider))
    return await aiohttp_client(create_app(settings), server_kwargs=SERVER_KWARGS)


async def send(gateway: TestClient[Any, Any], body: JSON) -> list[tuple[str, JSON]]:
    response = await gateway.post(
        claude_code.PATH,
        data=orjson.dumps(body),
        headers={**claude_code.HEADERS, "x-api-key": GATEWAY_KEY},
    )
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["X-Gateway-Provider"] == "claude-code"
    return parse_events(await response.read())


async def test_claude_code_session(gateway: TestClient[Any, Any], upstream: FakeOpenAI) -> None:
    # 1. The small fast model names the conversation.
    upstream.reply = Reply(text='{"isNewTopic": true, "title": "Failing test"}')
    events = await send(gateway, claude_code.title_request())
    assert check_stream(events) == [
        {"type": "text", "text": '{"isNewTopic": true, "title": "Failing test"}'}
    ]
    assert events[0][1]["message"]["model"] == claude_code.FAST_MODEL
    sent = upstream.requests[-1]
    assert sent.json["model"] == "qwen3-4b"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert GATEWAY_KEY not in str(sent.headers) and "anthropic-beta" not in sent.headers

    # 2. The main loop: long system prompt, the toolbox; the model calls two tools at once.
    upstream.reply = Reply(
        text="",
        tool_calls=[
            ("Read", {"file_path": "/home/dev/project/tests/test_app.py"}),
            ("Grep", {"pattern": "def test_", "path": "src/", "output_mode": "content"}),
        ],
        prompt_tokens=9000,
        completion_tokens=60,
    )
    history: list[JSON] = [claude_code.USER_TURN]
    events = await send(gateway, claude_code.main_request(history))
    assert [name for name, _ in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start["model"] == claude_code.MAIN_MODEL and start["role"] == "assistant"
    assert start["content"] == [] and start["stop_reason"] is None
    calls = check_stream(events)
    assert [(c["type"], c["name"], c["input"]) for c in calls] == [
        ("tool_use", "Read", {"file_path": "/home/dev/project/tests/test_app.py"}),
        ("tool_use", "Grep", {"pattern": "def test_", "path": "src/", "output_mode": "content"}),
    ]
    assert all(c["id"].startswith("call_") for c in calls)
    assert final_delta(events) == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"input_tokens": 9000, "output_tokens": 60},
    }
    sent_body = upstream.requests[-1].json
    assert sent_body["model"] == "qwen3-coder-30b"
    assert sent_body["stream"] is True and sent_body["stream_options"] == {"include_usage": True}
    assert sent_body["messages"][0]["role"] == "system"
    assert claude_code.SYSTEM_PROMPT in sent_body["messages"][0]["content"]
    assert [t["function"]["name"] for t in sent_body["tools"]] == [
        t["name"] for t in claude_code.TOOLS
    ]
    assert sent_body["tools"][3]["function"]["parameters"] == claude_code.TOOLS[3]["input_schema"]
    assert sent_body["user"] == claude_code.USER_ID[:64]
    assert b"cache_control" not in upstream.requests[-1].raw

    # 3. Claude Code runs the tools (one fails) and sends the results back.
    upstream.reply = Reply(text="The test imports a module that moved.")
    history += [{"role": "assistant", "content": calls}, claude_code.tool_results(calls)]
    events = await send(gateway, claude_code.main_request(history))
    assert check_stream(events) == [
        {"type": "text", "text": "The test imports a module that moved."}
    ]
    assert final_delta(events)["delta"]["stop_reason"] == "end_turn"
    replayed = upstream.requests[-1].json["messages"]
    assert [m["role"] for m in replayed] == ["system", "user", "assistant", "tool", "tool"]
    assert [c["id"] for c in replayed[2]["tool_calls"]] == [c["id"] for c in calls]
    assert replayed[4] == {
        "role": "tool",
        "tool_call_id": calls[1]["id"],
        "content": "Error: <tool_use_error>Path does not exist: src/</tool_use_error>",
    }

    # 4. Its token counting: an estimate, said so.
    count = await gateway.post(
        "/v1/messages/count_tokens?beta=true",
        data=orjson.dumps(
            {
                "model": claude_code.MAIN_MODEL,
                "messages": history,
                "tools": claude_code.TOOLS,
                "system": claude_code.SYSTEM_PROMPT,
            }
        ),
        headers={**claude_code.HEADERS, "x-api-key": GATEWAY_KEY},
    )
    assert count.status == 200
    assert count.headers["X-Gateway-Token-Count"].startswith("estimate")
    assert (await count.json())["input_tokens"] > 2000
