"""The request log as JSON lines, for the log store operators already run.

Entries are buffered and written in batches (every ``WRITE_DELAY_S`` and at
shutdown) to ``usage.log_path`` or stdout (``-``). A file is rotated by size:
``path`` -> ``path.1`` -> ... ``path.<backups>``. Each batch is written under an
exclusive ``flock``, after re-opening the file if another worker rotated it,
so several worker processes can share one path without losing a line.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sys
from pathlib import Path
from typing import IO

logger = logging.getLogger("gateway.ledger.sink")

WRITE_DELAY_S = 0.2
FILE_MODE = 0o600


class JsonLinesSink:
    """Appends lines to a size-rotated file, or to stdout."""

    def __init__(self, target: str, max_bytes: int, backups: int) -> None:
        self.stdout = target == "-"
        self.path = Path(target)
        self.max_bytes = max_bytes
        self.backups = backups
        self._buffer: list[bytes] = []
        self._fd: int | None = None
        self._inode: int | None = None
        self._timer: asyncio.TimerHandle | None = None

    def add(self, line: bytes) -> None:
        """Queue one line (without its newline); written within WRITE_DELAY_S."""
        self._buffer.append(line)
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._timer = loop.call_later(WRITE_DELAY_S, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        try:
            self.flush()
        except OSError:
            logger.exception(
                "usage log %s cannot be written; lines kept for the next try", self.path
            )

    def flush(self) -> None:
        """Write every queued line now."""
        if not self._buffer:
            return
        if self.stdout:
            out: IO[bytes] = sys.stdout.buffer
            out.write(b"".join(line + b"\n" for line in self._buffer))
            out.flush()
        else:
            self._write(self._buffer)
        self._buffer.clear()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _write(self, lines: list[bytes]) -> None:
        """Append ``lines``, rotating before a line that would take the file past max_bytes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            fd = self._current()
            size = os.fstat(fd).st_size
            chunk: list[bytes] = []
            for line in lines:
                if size and size + len(line) + 1 > self.max_bytes:
                    _write_all(fd, b"".join(chunk))
                    chunk.clear()
                    self._rotate()
                    fd = self._current()
                    size = 0
                chunk.append(line + b"\n")
                size += len(line) + 1
            _write_all(fd, b"".join(chunk))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            os.close(lock)

    def _current(self) -> int:
        """The open file at ``path``, re-opened when another process rotated it."""
        try:
            inode: int | None = os.stat(self.path).st_ino
        except FileNotFoundError:
            inode = None
        if self._fd is None or inode != self._inode:
            if self._fd is not None:
                os.close(self._fd)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            self._inode = os.fstat(self._fd).st_ino
        return self._fd

    def _rotate(self) -> None:
        """``path`` -> ``path.1``, ``path.1`` -> ``path.2``, ...; the oldest beyond backups goes."""
        if self.backups == 0:
            os.unlink(self.path)
            return
        for n in range(self.backups - 1, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                os.replace(self._numbered(n), self._numbered(n + 1))
        os.replace(self.path, self._numbered(1))

    def _numbered(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
