"""Logging setup: text for people in development, JSON lines in production.

Every record of a request carries its request id through a context variable,
so handlers need not pass it around.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time

import orjson

from gateway.security.redaction import RedactingFilter
from gateway.settings import LoggingSettings

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

access_logger = logging.getLogger("gateway.access")
logger = logging.getLogger("gateway")


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


def configure_logging(settings: LoggingSettings) -> None:
    """Install one stderr handler on the root logger, replacing earlier ones."""
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
    access_logger.disabled = not settings.access_log
    logging.getLogger("aiohttp.access").disabled = True
