"""The access line's own writer: the same line as a logging record, batched per loop turn."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from gateway.logs import AccessLog, configure_logging
from gateway.settings import LoggingSettings


class CountingStream(io.StringIO):
    """Counts the writes, to see the batching."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_json_line_escapes_the_route_and_keeps_numbers_typed() -> None:
    stream = io.StringIO()
    log = AccessLog()
    log.configure(stream, json=True, enabled=True)
    log.write("POST", '/x/{n:\\d+}"q', 201, 12.0, "rid-1", 5)
    record = json.loads(stream.getvalue())
    assert record == {
        "ts": record["ts"],
        "level": "INFO",
        "logger": "gateway.access",
        "request_id": "rid-1",
        "message": 'POST /x/{n:\\d+}"q 201 12.0ms 5B',
        "method": "POST",
        "route": '/x/{n:\\d+}"q',
        "status": 201,
        "duration_ms": 12.0,
        "bytes_sent": 5,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])


def test_text_line_looks_like_the_text_log_format() -> None:
    stream = io.StringIO()
    log = AccessLog()
    log.configure(stream, json=False, enabled=True)
    log.write("GET", "/api/v1/health", 200, 0.25, "abc", 42)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO    gateway.access \[abc\] "
        r"GET /api/v1/health 200 0.2ms 42B\n",
        stream.getvalue(),
    )


async def test_lines_of_one_loop_turn_leave_in_one_write() -> None:
    stream = CountingStream()
    log = AccessLog()
    log.configure(stream, json=True, enabled=True)
    for number in range(5):
        log.write("GET", "/r", 200, 1.0, f"id-{number}", 0)
    assert stream.writes == 0
    await asyncio.sleep(0)
    assert stream.writes == 1
    ids = [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()]
    assert ids == [f"id-{number}" for number in range(5)]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(
    ("level", "enabled", "expected"),
    [("INFO", True, True), ("DEBUG", True, True), ("WARNING", True, False), ("INFO", False, False)],
)
def test_configure_logging_follows_level_and_switch(
    level: str, enabled: bool, expected: bool
) -> None:
    settings = LoggingSettings(level=level, access_log=enabled)  # type: ignore[arg-type]
    assert configure_logging(settings).enabled is expected
