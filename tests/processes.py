"""Run the gateway as a real process and read what it logs, for lifecycle tests."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"listening on http://[^:]+:(\d+)")


class GatewayProcess:
    """A child process whose stderr lines are collected by a reader thread."""

    def __init__(self, module: str, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        full_env["PYTHONPATH"] = str(REPO_ROOT)
        full_env.update(env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._queue.put(line)

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float = 20.0) -> re.Match[str]:
        """The first logged line (old or new) that matches, or AssertionError."""
        for line in self.lines:
            if match := pattern.search(line):
                return match
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None and self._queue.empty():
                    break
                continue
            self.lines.append(line)
            if match := pattern.search(line):
                return match
        raise AssertionError(f"no line matching {pattern.pattern!r} in:\n{self.output()}")

    def output(self) -> str:
        while not self._queue.empty():
            self.lines.append(self._queue.get_nowait())
        return "".join(self.lines)

    def port(self) -> int:
        return int(self.wait_for_line(LISTENING).group(1))

    def stop(self) -> int:
        """SIGTERM, then the exit code (killing it if it will not go)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"did not exit after SIGTERM:\n{self.output()}") from None


@contextmanager
def gateway_process(
    *args: str, cwd: Path, env: dict[str, str] | None = None, module: str = "gateway"
) -> Iterator[GatewayProcess]:
    """``python -m gateway ARGS`` (or another module); always stopped afterwards."""
    child = GatewayProcess(
        module, list(args), cwd, {"GATEWAY_LOGGING__LEVEL": "INFO", **(env or {})}
    )
    try:
        yield child
    finally:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait()


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gateway ARGS`` to completion, without the caller's GATEWAY_* variables."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    full_env["PYTHONPATH"] = str(REPO_ROOT)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
