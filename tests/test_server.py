"""Graceful shutdown of a real process on a real SIGTERM; uvloop with its fallback."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from gateway import __version__
from gateway.server import install_event_loop_policy
from gateway.state import LIFECYCLE
from tests.fakes import streaming_gateway
from tests.fakes.base import API_KEY, Fault
from tests.fakes.openai_upstream import FakeOpenAI
from tests.processes import gateway_process

SLOW_GATEWAY = "tests.fakes.streaming_gateway"


def refuses_connections(port: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.02)
    return False


def test_sigterm_drains_an_in_flight_stream_and_exits_0(tmp_path: Path) -> None:
    with gateway_process("serve", "--port", "0", cwd=tmp_path, module=SLOW_GATEWAY) as gw:
        port = gw.port()
        idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        idle.request("GET", "/api/v1/health")
        health = idle.getresponse()
        assert health.status == 200
        assert json.loads(health.read()) | {"uptime_s": 0} == {
            "status": "ok",
            "version": __version__,
            "uptime_s": 0,
            "pid": gw.process.pid,
            "providers": {"total": 0, "healthy": 0, "degraded": 0, "unhealthy": 0, "unknown": 0},
            "storage": {"backend": "file", "healthy": True, "error": None},
        }

        stream = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        stream.request("GET", "/api/v1/test/slow")
        response = stream.getresponse()
        assert response.status == 200
        assert response.readline() == b"chunk 0\n"

        gw.process.send_signal(signal.SIGTERM)
        # The listening socket closes at once, while the stream is still running.
        assert refuses_connections(port, within_s=1.0), gw.output()
        assert gw.process.poll() is None
        # Idle keep-alive connections are closed at once too (aiohttp's pre_shutdown),
        # so clients reconnect to another instance instead of queueing here.
        with pytest.raises(ConnectionError):
            idle.request("GET", "/api/v1/health")
            idle.getresponse()

        rest = response.read()
        expected = [f"chunk {i}\n".encode() for i in range(1, streaming_gateway.CHUNKS)]
        assert rest == b"".join(expected) + b"done\n"
        assert gw.process.wait(timeout=10) == 0
        assert "shutdown complete" in gw.output()


def test_shutdown_timeout_cuts_off_what_is_left(tmp_path: Path) -> None:
    env = {"GATEWAY_SERVER__SHUTDOWN_TIMEOUT": "0.3"}
    with gateway_process("serve", "--port", "0", cwd=tmp_path, env=env, module=SLOW_GATEWAY) as gw:
        stream = http.client.HTTPConnection("127.0.0.1", gw.port(), timeout=5)
        stream.request("GET", "/api/v1/test/slow")
        response = stream.getresponse()
        assert response.readline() == b"chunk 0\n"
        started = time.monotonic()
        gw.process.send_signal(signal.SIGTERM)
        with pytest.raises(http.client.IncompleteRead):
            response.read()
        assert gw.process.wait(timeout=10) == 0
        # The stream needs 2 s; the drain gave it 0.3 s.
        assert time.monotonic() - started < 1.8


async def test_health_says_draining_once_shutdown_starts(client) -> None:  # type: ignore[no-untyped-def]
    """What a request that is already inside the server when SIGTERM lands is told."""
    client.app[LIFECYCLE].draining.set()
    response = await client.get("/api/v1/health")
    assert response.status == 503
    assert await response.json() == {"status": "draining"}


def test_uvloop_when_installed_and_asyncio_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvloop

    try:
        install_event_loop_policy()
        assert isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)

        asyncio.set_event_loop_policy(None)
        monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
        install_event_loop_policy()
        policy = asyncio.get_event_loop_policy()
        assert not isinstance(policy, uvloop.EventLoopPolicy)
        loop = policy.new_event_loop()
        try:
            assert loop.run_until_complete(asyncio.sleep(0, result=42)) == 42
        finally:
            loop.close()
    finally:
        asyncio.set_event_loop_policy(None)


async def test_drain_fits_the_timeout_and_ends_open_streams_with_a_final_event(
    tmp_path: Path,
) -> None:
    """A chat stream longer than the drain: it ends with ``server_shutting_down``, in time."""
    async with FakeOpenAI() as fake:
        fake.fault = Fault(chunk_delay=1.0)  # about 6 s of events
        providers = tmp_path / "providers.d"
        providers.mkdir()
        (providers / "slow.yaml").write_text(
            f"id: slow\nname: slow\ntemplate: openai\nbase_url: {fake.url}\n"
            f"api_key: {API_KEY}\naliases: {{m: m}}\n"
        )
        env = {
            "GATEWAY_SERVER__SHUTDOWN_TIMEOUT": "2",
            "GATEWAY_HEALTH__ENABLED": "false",
            "GATEWAY_CATALOG__PREFETCH": "false",
        }
        with gateway_process("serve", "--port", "0", cwd=tmp_path, env=env) as gw:
            port = await asyncio.to_thread(gw.port)
            async with aiohttp.ClientSession() as session:
                messages = [{"role": "user", "content": "hi"}]
                response = await session.post(
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                    json={"model": "m", "stream": True, "messages": messages},
                )
                assert response.status == 200, gw.output()
                first = await response.content.readuntil(b"\n\n")
                assert first.startswith(b"data: {")
                started = time.monotonic()
                gw.process.send_signal(signal.SIGTERM)
                rest = await asyncio.wait_for(response.read(), 10)
                code = await asyncio.to_thread(gw.process.wait, 10)
                elapsed = time.monotonic() - started
    events = [block for block in rest.split(b"\n\n") if block]
    final = json.loads(events[-1].removeprefix(b"data: "))
    assert final["error"]["code"] == "server_shutting_down", rest
    assert code == 0, gw.output()
    assert elapsed < 2.6, f"the drain took {elapsed:.1f} s with a 2 s shutdown timeout"
