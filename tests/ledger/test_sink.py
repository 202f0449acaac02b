"""The JSON-lines sink: rotated by size, and no line lost or doubled under load.

Over HTTP (120 concurrent requests through a real gateway), and with two sinks
on one path, as two worker processes would share it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from gateway.ledger.sink import JsonLinesSink
from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.ledger.helpers import ADMIN, ADMIN_KEY, HELLO, providers
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app

MAX_BYTES = 4096
REQUESTS = 120


def read_lines(path: Path) -> tuple[list[dict[str, Any]], list[Path]]:
    """Every line of the file and its rotated copies, oldest first; and the files."""
    files = sorted(path.parent.glob(f"{path.name}.*"), key=lambda p: -int(p.suffix[1:]))
    files = [f for f in files if f.suffix[1:].isdigit()] + [path]
    lines = [orjson.loads(line) for f in files for line in f.read_bytes().splitlines()]
    return lines, files


async def test_lines_rotate_by_size_and_none_is_lost_under_load(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    target = tmp_path / "logs" / "usage.jsonl"
    settings = make_settings(
        admin_key=ADMIN_KEY,
        usage={"log_path": str(target), "log_max_bytes": MAX_BYTES, "log_backups": 1000},
        rate_limit={"enabled": False},
        **QUIET,
    )
    async with FakeOpenAI() as oa, FakeAnthropic() as an, FakeGemini() as ge:
        client = await aiohttp_client(
            gateway_app(settings, *providers(oa, an, ge)), server_kwargs=SERVER_KWARGS
        )

        async def one(n: int) -> str:
            response = await client.post(
                "/v1/chat/completions",
                json={"model": "oa/gpt-4o-mini", "messages": HELLO},
                headers={**ADMIN, "X-Request-ID": f"load-{n}"},
            )
            assert response.status == 200
            await response.read()
            return response.headers["X-Request-ID"]

        sent = await asyncio.gather(*(one(n) for n in range(REQUESTS)))
        await client.close()  # shutdown writes what is queued
    lines, files = read_lines(target)
    assert sorted(line["request_id"] for line in lines) == sorted(sent)
    assert len(files) > 5
    assert all(f.stat().st_size <= MAX_BYTES for f in files)
    assert {line["model"] for line in lines} == {"gpt-4o-mini"}
    assert all(line["cost_usd"] is not None and "id" not in line for line in lines)


def test_two_writers_on_one_path_lose_nothing(tmp_path: Path) -> None:
    target = tmp_path / "usage.jsonl"
    writers = [JsonLinesSink(str(target), 1024, 1000) for _ in range(2)]
    for n in range(300):  # no loop: each line is written at once, alternating writers
        writers[n % 2].add(orjson.dumps({"n": n, "pad": "x" * (n % 50)}))
    for writer in writers:
        writer.close()
    lines, files = read_lines(target)
    assert [line["n"] for line in lines] == list(range(300))
    assert all(f.stat().st_size <= 1024 for f in files)


def test_old_files_beyond_the_backups_are_dropped(tmp_path: Path) -> None:
    target = tmp_path / "usage.jsonl"
    sink = JsonLinesSink(str(target), 1024, 2)
    for n in range(500):
        sink.add(orjson.dumps({"n": n, "pad": "x" * 20}))
    sink.close()
    lines, files = read_lines(target)
    assert [f.name for f in files] == ["usage.jsonl.2", "usage.jsonl.1", "usage.jsonl"]
    assert [line["n"] for line in lines] == list(range(500 - len(lines), 500))
    assert len(lines) < 500
