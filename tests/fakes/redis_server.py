"""A real redis-server child process on a free loopback port, stoppable mid-test.

Tests that need Redis depend on the session fixture ``redis_server`` (tests/conftest.py).
A missing or unstartable ``redis-server`` fails the run: CI must not silently skip.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

START_TIMEOUT_S = 5.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server on a fixed port for the session; stop() and start() keep the port."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.process is not None:
            return
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        args += ["--daemonize", "no", "--loglevel", "warning"]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.folder
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if _ping(self.port):
                return
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                self.process = None
                pytest.fail(f"redis-server exited at start-up: {err.strip()}")
            time.sleep(0.02)
        self.stop()
        pytest.fail(f"redis-server did not answer PING within {START_TIMEOUT_S} s")

    def stop(self, *, persist: bool = False) -> None:
        """Stop at once (SIGKILL): what a crashed or unreachable Redis looks like to clients.

        ``persist`` first SAVEs to disk, so the next start() loads the data back (a Redis
        run with persistence); otherwise the next start() begins empty.
        """
        if self.process is None:
            return
        if persist:
            self._command(b"SAVE")
        else:
            (self.folder / "dump.rdb").unlink(missing_ok=True)
        self.process.kill()
        self.process.wait(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """SIGSTOP for the block: connections stay open and nothing answers (a hung Redis)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def flush(self) -> None:
        self._command(b"FLUSHALL")

    def _command(self, command: bytes) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(command + b"\r\n")
            reply = sock.recv(64)
        if not reply.startswith(b"+OK"):
            pytest.fail(f"redis-server refused {command.decode()}: {reply!r}")


def start_redis_server(folder: Path) -> RedisServer:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed; run scripts/ensure-system-deps.sh (make test does)"
        )
    server = RedisServer(binary, folder)
    server.start()
    return server
