"""Load generators: open-loop fixed-rate latency, and many concurrent SSE streams.

Open loop: requests start on a fixed schedule whatever the answers do, and
latency is measured from the scheduled start, so a stall shows up in the
percentiles instead of silently slowing the load (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp
import orjson


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def chat_body(model: str, stream: bool, include_usage: bool = False) -> bytes:
    body: dict[str, object] = {
        "model": model,
        "messages": [{"role": "user", "content": "Write one short sentence."}],
        "max_tokens": 32,
        "temperature": 0.7,
    }
    if stream:
        body["stream"] = True
        if include_usage:
            body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


def responses_body(model: str) -> bytes:
    """A streamed Responses API request like ``chat_body``'s (not stored: streaming is measured)."""
    body = {
        "model": model,
        "input": "Write one short sentence.",
        "max_output_tokens": 32,
        "temperature": 0.7,
        "stream": True,
        "store": False,
    }
    return orjson.dumps(body)


def messages_body(model: str) -> bytes:
    """A streamed Anthropic Messages request (the /v1/messages ingress)."""
    body = {
        "model": model,
        "max_tokens": 32,
        "messages": [{"role": "user", "content": "Write one short sentence."}],
        "temperature": 0.7,
        "stream": True,
    }
    return orjson.dumps(body)


MESSAGES_DONE = b'"message_stop"'
"""What the last event of a whole Anthropic stream carries."""

HEADERS = {"Content-Type": "application/json"}


@dataclass
class LatencyResult:
    sent: int
    errors: int
    latencies_ms: list[float]

    def summary(self) -> dict[str, float]:
        return {
            "requests": self.sent,
            "errors": self.errors,
            "p50_ms": round(percentile(self.latencies_ms, 50), 3),
            "p99_ms": round(percentile(self.latencies_ms, 99), 3),
        }


async def open_loop(url: str, body: bytes, rate: float, seconds: float) -> LatencyResult:
    """``rate`` requests per second for ``seconds``, each timed from its scheduled start."""
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(scheduled: float) -> None:
            nonlocal errors
            try:
                async with session.post(url, data=body, headers=HEADERS) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                        return
            except aiohttp.ClientError:
                errors += 1
                return
            latencies.append((time.perf_counter() - scheduled) * 1000.0)

        # Warm the pool so connection set-up is not measured.
        await asyncio.gather(*(one(time.perf_counter()) for _ in range(20)))
        latencies.clear()
        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
    return LatencyResult(total, errors, latencies)


@dataclass
class StreamResult:
    streams: int
    errors: int
    chunks: int
    elapsed_s: float
    ttfc_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        return {
            "streams": self.streams,
            "errors": self.errors,
            "chunks": self.chunks,
            "chunks_per_s": round(self.chunks / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "ttfc_p50_ms": round(percentile(self.ttfc_ms, 50), 2),
            "ttfc_p99_ms": round(percentile(self.ttfc_ms, 99), 2),
        }


async def streams(
    url: str,
    body: bytes,
    count: int,
    *,
    hold: asyncio.Event | None = None,
    all_started: asyncio.Event | None = None,
    expect_done: bytes | None = b"data: [DONE]",
) -> StreamResult:
    """``count`` concurrent streams read to the end; events counted by their ``data:`` lines.

    With ``hold``, each stream waits after its first chunk until ``hold`` is set
    and then hangs up; ``all_started`` is set once every stream has its first
    chunk. That holds ``count`` streams open at once, for a memory reading.
    """
    result = StreamResult(count, 0, 0, 0.0)
    started = 0
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> None:
            nonlocal started
            begin = time.perf_counter()
            first = True
            tail = b""
            try:
                async with session.post(url, data=body, headers=HEADERS) as response:
                    if response.status != 200:
                        result.errors += 1
                        return
                    async for chunk in response.content.iter_any():
                        if first:
                            result.ttfc_ms.append((time.perf_counter() - begin) * 1000.0)
                            first = False
                            started += 1
                            if started == count and all_started is not None:
                                all_started.set()
                            if hold is not None:
                                await hold.wait()
                                return
                        result.chunks += chunk.count(b"data: ")
                        tail = (tail + chunk)[-64:]
                    if expect_done is not None and expect_done not in tail:
                        result.errors += 1
            except (aiohttp.ClientError, TimeoutError):
                result.errors += 1

        begin = time.perf_counter()
        tasks = [asyncio.create_task(one()) for _ in range(count)]
        await asyncio.gather(*tasks)
        result.elapsed_s = time.perf_counter() - begin
    return result
