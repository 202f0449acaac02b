"""--workers N: N serving processes share one port (SO_REUSEPORT) under one supervisor.

The supervisor forwards SIGTERM/SIGINT to every worker, restarts a worker that
dies while the gateway is running, and exits once all workers have exited. If
the supervisor itself dies (SIGKILL), its workers drain and exit: each holds the
read end of a pipe that closes with the supervisor (``--parent-fd``).

Metrics add up across workers: the supervisor makes a fresh folder and hands it
to every worker as PROMETHEUS_MULTIPROC_DIR (prometheus-client reads it when
first imported) and GATEWAY_METRICS__MULTIPROCESS_DIR (settings, for /metrics).
The folder goes under ``server.runtime_dir`` (default: the data folder), which a
read-only container keeps writable; an unwritable one stops the start at once.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead

logger = logging.getLogger("gateway.supervisor")

POLL_S = 0.1
RESTART_BACKOFF_S = 0.5
MAX_RESTART_BACKOFF_S = 8.0
STABLE_AFTER_S = 5.0


class CannotStart(Exception):
    """The supervisor cannot run: its message is the one line the CLI prints."""


def _worker_command(config_path: Path | None, host: str, port: int, parent_fd: int) -> list[str]:
    command = [sys.executable, "-m", "gateway", "serve", "--workers", "1", "--reuse-port"]
    command += ["--host", host, "--port", str(port), "--parent-fd", str(parent_fd)]
    if config_path is not None:
        command += ["--config", str(config_path)]
    return command


def supervise(
    workers: int, config_path: Path | None, host: str, port: int, runtime_dir: Path
) -> int:
    """Run ``workers`` children until a signal asks us to stop; return the exit code."""
    try:
        runtime_dir.mkdir(parents=True, exist_ok=True)
        metrics_dir = tempfile.mkdtemp(prefix=".metrics-", dir=runtime_dir)
    except OSError as exc:
        raise CannotStart(
            f"server.runtime_dir {runtime_dir} is not writable ({exc.strerror}); "
            "the workers' metrics need a writable folder there"
        ) from None
    # Only the supervisor holds the write end; the workers see EOF when it dies.
    watch_fd, held_fd = os.pipe()
    try:
        command = _worker_command(config_path, host, port, watch_fd)
        return _supervise(workers, command, metrics_dir, port, watch_fd)
    finally:
        os.close(watch_fd)
        os.close(held_fd)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _supervise(workers: int, command: list[str], metrics_dir: str, port: int, watch_fd: int) -> int:
    env = dict(os.environ)
    env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    env["GATEWAY_METRICS__MULTIPROCESS_DIR"] = metrics_dir
    children: dict[int, tuple[subprocess.Popen[bytes], float]] = {}
    stop_signal: int | None = None
    backoff = RESTART_BACKOFF_S

    def spawn() -> None:
        child = subprocess.Popen(command, env=env, pass_fds=(watch_fd,))
        children[child.pid] = (child, time.monotonic())
        logger.info("worker %d started", child.pid)
        if stop_signal is not None:  # the signal landed while we were starting it
            child.send_signal(stop_signal)

    def forward(signum: int, _frame: object) -> None:
        nonlocal stop_signal
        stop_signal = signum
        for child, _started in list(children.values()):
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for _ in range(workers):
        spawn()
    logger.info("supervisor %d running %d workers on port %d", os.getpid(), workers, port)

    exit_code = 0
    while children:
        time.sleep(POLL_S)
        for pid, (child, started) in list(children.items()):
            code = child.poll()
            if code is None:
                continue
            del children[pid]
            mark_process_dead(pid, metrics_dir)  # type: ignore[no-untyped-call]
            if stop_signal is not None:
                exit_code = exit_code or max(code, 0)
                continue
            # A worker that keeps dying at start-up (port taken, ...) is retried ever
            # more slowly instead of in a tight loop.
            lived = time.monotonic() - started
            backoff = RESTART_BACKOFF_S if lived > STABLE_AFTER_S else backoff * 2
            backoff = min(backoff, MAX_RESTART_BACKOFF_S)
            logger.warning("worker %d exited with %d; restarting in %.1fs", pid, code, backoff)
            time.sleep(backoff)
            if stop_signal is None:
                spawn()
    logger.info("supervisor %d: all workers stopped", os.getpid())
    return exit_code
