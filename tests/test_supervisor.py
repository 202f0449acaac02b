"""--workers 2: two processes share one port; a killed worker is replaced; SIGTERM stops all."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import time
from pathlib import Path

from tests.processes import gateway_process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def health_pid(port: int) -> int:
    """One request on a fresh connection (SO_REUSEPORT picks a worker per connection)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/api/v1/health")
        response = connection.getresponse()
        assert response.status == 200
        body = json.loads(response.read())
        assert body["status"] == "ok"
        return int(body["pid"])
    finally:
        connection.close()


def parent_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]


def is_gone(pid: int) -> bool:
    """Exited (zombie or reaped): its listening socket is closed."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return bool(re.search(r"^State:\s+Z", status, re.M))


def pids_seen(port: int, want: int, attempts: int = 60) -> set[int]:
    seen: set[int] = set()
    for _ in range(attempts):
        seen.add(health_pid(port))
        if len(seen) >= want:
            break
    return seen


def wait_until(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_two_workers_survive_a_killed_worker_and_stop_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    with gateway_process("serve", "--workers", "2", "--port", str(port), cwd=tmp_path) as gw:
        listening = re.compile(r"gateway (\d+) listening")
        gw.wait_for_line(listening)
        assert wait_until(lambda: len(re.findall(listening, gw.output())) >= 2, 20), gw.output()
        supervisor = gw.process.pid

        workers = pids_seen(port, want=2)
        assert len(workers) == 2, gw.output()
        assert {parent_of(pid) for pid in workers} == {supervisor}

        victim, survivor = sorted(workers)
        os.kill(victim, signal.SIGKILL)
        # Once the supervisor has reaped it (a connection the kernel had already
        # queued on the dying socket is reset: that is SO_REUSEPORT, not the gateway),
        # every request keeps succeeding while the supervisor replaces the worker.
        gw.wait_for_line(re.compile(f"worker {victim} exited with -9; restarting"))
        assert {health_pid(port) for _ in range(10)} == {survivor}

        replacement: set[int] = set()

        def replaced() -> bool:
            replacement.update(pids_seen(port, want=2, attempts=10) - {survivor})
            return bool(replacement)

        assert wait_until(replaced, 20), gw.output()
        assert victim not in replacement
        (new_worker,) = replacement
        assert parent_of(new_worker) == supervisor

        assert gw.stop() == 0, gw.output()
        assert is_gone(survivor) and is_gone(new_worker)
        assert "all workers stopped" in gw.output()


def test_workers_need_a_fixed_port(tmp_path: Path) -> None:
    with gateway_process("serve", "--workers", "2", "--port", "0", cwd=tmp_path) as gw:
        assert gw.process.wait(timeout=20) == 2
        assert "--workers N needs a fixed port" in gw.output()


def test_workers_exit_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    """SIGKILL on the supervisor: its workers drain and go, leaving the port free."""
    port = free_port()
    with gateway_process("serve", "--workers", "2", "--port", str(port), cwd=tmp_path) as gw:
        gw.port()
        both_listening = wait_until(lambda: gw.output().count("listening on http") >= 2, 30)
        assert both_listening, gw.output()
        workers = pids_seen(port, want=2)
        assert len(workers) == 2, gw.output()
        gw.process.kill()
        gw.process.wait(timeout=5)
        assert wait_until(lambda: all(is_gone(pid) for pid in workers), timeout=10), gw.output()
        assert "supervisor gone: stopping" in gw.output()


def test_an_unwritable_runtime_dir_is_one_line_at_start(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    env = {"GATEWAY_SERVER__RUNTIME_DIR": str(tmp_path / "not-a-folder" / "run")}
    port = str(free_port())
    with gateway_process("serve", "--workers", "2", "--port", port, cwd=tmp_path, env=env) as gw:
        assert gw.process.wait(timeout=20) == 1
        output = gw.output()
    assert "cannot start: server.runtime_dir" in output
    assert "not writable" in output and "Traceback" not in output
