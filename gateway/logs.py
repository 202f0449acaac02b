"""Logging setup: text for people in development, JSON lines in production.

Every record of a request carries its request id through a context variable,
so handlers need not pass it around. The access line, written for every
request, takes a shorter path than other records: see ``AccessLog``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import time
from typing import TextIO

import orjson

from gateway.security.redaction import RedactingFilter
from gateway.settings import LoggingSettings

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Stamps the current request id on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any ``extra`` fields the caller attached."""

    _STANDARD = frozenset(
        logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
        | {"message", "asctime", "request_id"}
    )

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._STANDARD:
                entry[key] = value
        if record.exc_text:  # already redacted by RedactingFilter
            entry["exc"] = record.exc_text
        elif record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"


MAX_QUOTED_ROUTES = 1000


class AccessLog:
    """The one access line per request, formatted directly and written once per loop turn.

    Going through ``logging`` cost more than the rest of the middleware chain
    (a LogRecord, two filters with regexes, a formatter, a write and flush per
    request). The line looks exactly like a ``gateway.access`` record in the
    configured format, but every field is bounded and secret-free by
    construction (a known method, a route template, numbers, and a request id
    that is generated or sane and not key-shaped, see middleware.request_id),
    so it skips the redaction filter. Lines made during one event-loop turn
    leave in one write at the end of that turn.
    """

    __slots__ = ("_json", "_pending", "_quoted", "_second", "_stamp", "_stream", "enabled")

    def __init__(self) -> None:
        self.enabled = False
        self._stream: TextIO = sys.stderr
        self._json = False
        self._pending: list[str] = []
        self._quoted: dict[str, str] = {}  # route template -> its JSON string body
        self._second = -1
        self._stamp = ""

    def configure(self, stream: TextIO, *, json: bool, enabled: bool) -> None:
        self.flush()
        self._stream, self._json, self.enabled = stream, json, enabled
        self._second = -1

    def write(
        self,
        # method and request_id: plain tokens ([A-Za-z0-9._-]), as the middleware ensures
        method: str,
        route: str,
        status: int,
        duration_ms: float,
        request_id: str,
        sent: int,
    ) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = (
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
                if self._json
                else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            )
        millis = int((now - second) * 1000)
        if self._json:
            quoted = self._quoted.get(route)
            if quoted is None:
                quoted = orjson.dumps(route).decode()[1:-1]
                if len(self._quoted) < MAX_QUOTED_ROUTES:
                    self._quoted[route] = quoted
            # Built as text: method and request id are plain tokens, the rest numbers.
            line = (
                f'{{"ts":"{self._stamp}.{millis:03d}Z","level":"INFO",'
                f'"logger":"gateway.access","request_id":"{request_id}",'
                f'"message":"{method} {quoted} {status} {duration_ms:.1f}ms {sent}B",'
                f'"method":"{method}","route":"{quoted}","status":{status},'
                f'"duration_ms":{duration_ms:.2f},"bytes_sent":{sent}}}'
            )
        else:
            line = (
                f"{self._stamp},{millis:03d} INFO    gateway.access [{request_id}] "
                f"{method} {route} {status} {duration_ms:.1f}ms {sent}B"
            )
        if not self._pending:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop: write at once
                self._pending.append(line)
                self.flush()
                return
        self._pending.append(line)

    def flush(self) -> None:
        """Write the lines made so far (also at exit)."""
        if not self._pending:
            return
        text = "\n".join(self._pending) + "\n"
        self._pending.clear()
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # closed or broken stderr: as logging does, go on
            pass


def configure_logging(settings: LoggingSettings) -> AccessLog:
    """Install one stderr handler on the root logger, replacing earlier ones.

    Returns the access-line writer that goes with it, for the app (``create_app``):
    on when INFO records are shown and ``settings.access_log`` is on.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())  # no credential reaches the output
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    logging.getLogger("aiohttp.access").disabled = True
    access_log = AccessLog()
    access_log.configure(
        sys.stderr,
        json=settings.format == "json",
        enabled=settings.access_log and root.getEffectiveLevel() <= logging.INFO,
    )
    return access_log
