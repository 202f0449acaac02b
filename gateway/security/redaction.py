"""Masking credentials in text that leaves the gateway: error messages and log records.

Two lines of defence. First, by value: every secret an application holds
(provider keys, secret provider headers, the admin and master keys, the metrics
token) is added to its own ``SecretRegistry`` (``app[SECRETS]``) when it is
loaded, because a key's shape cannot be guessed. Second, by shape: strings that
look like a key (``gw-``, ``sk-``, ``sk-ant-``, ``AIza``, ``Bearer ...``). Log
records also mask ``name: value`` pairs of credential headers.

Error bodies and log records are made in many places that know no application
(an adapter's error event, a logging filter), so the registry in force is a
context variable: the application activates its own at start-up and for each
request; two applications in one process never mask, or see, each other's values.
"""

from __future__ import annotations

import contextvars
import logging
import re

from aiohttp import web

MASK = "***"
MIN_SECRET_LENGTH = 6
"""Shorter values are not registered: masking them would mangle ordinary words."""

_KEY_SHAPES = re.compile(
    r"gw-[A-Za-z0-9_\-]{8,}"
    r"|sk-[A-Za-z0-9_\-]{8,}"
    r"|AIza[0-9A-Za-z_\-]{20,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"
)

_LOG_PATTERNS = re.compile(
    _KEY_SHAPES.pattern + r"|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]+"
    r"|(?i:(?:x-api-key|api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?)"
    r"(?i:(?:bearer|basic|token)\s+)?[^\s\"',;}]+"
)
_PAIR_NAME = re.compile(r"(?i)(?:x-api-key|api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?")


class SecretRegistry:
    """The exact values that must never leave one application, matched by one compiled pattern.

    Values are only ever added (a replaced key stays masked); the pattern is
    rebuilt lazily after a change, so masking costs nothing until an error occurs.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str | None) -> None:
        """Mask this exact value from now on (ignored when empty or shorter than 6)."""
        if value and len(value) >= MIN_SECRET_LENGTH and value not in self._values:
            self._values.add(value)
            self._pattern = None

    def mask(self, text: str) -> str:
        """``text`` with every registered value replaced by ``***``."""
        return self._compiled().sub(MASK, text) if self._values else text

    def found_in(self, text: str) -> bool:
        return bool(self._values) and self._compiled().search(text) is not None

    def _compiled(self) -> re.Pattern[str]:
        pattern = self._pattern
        if pattern is None:
            longest_first = sorted(self._values, key=len, reverse=True)
            pattern = self._pattern = re.compile("|".join(map(re.escape, longest_first)))
        return pattern

    def activate(self) -> None:
        """Make this the registry in force in the current context (and tasks it starts)."""
        IN_FORCE.set(self)

    def looks_secret(self, text: str) -> bool:
        """Whether ``redact`` would change ``text`` with this registry in force."""
        return _LOG_PATTERNS.search(text) is not None or self.found_in(text)


SECRETS = web.AppKey("secrets", SecretRegistry)
"""The application's registry: fed by its settings, its provider registry and providers.d."""

IN_FORCE: contextvars.ContextVar[SecretRegistry | None] = contextvars.ContextVar(
    "secrets", default=None
)
"""The registry of the application this context serves; set with ``activate``."""
_OUTSIDE = SecretRegistry()
"""In force outside any application (a CLI command, a test without an app)."""


def in_force() -> SecretRegistry:
    """The registry of the application this context serves (``activate``)."""
    return IN_FORCE.get() or _OUTSIDE


def register_secret(value: str | None) -> None:
    """Mask this exact value from now on, in the registry in force (ignored when short or empty)."""
    in_force().add(value)


def mask_secrets(text: str) -> str:
    """A message safe to send to a client: known secrets by value, then key-shaped strings."""
    return _KEY_SHAPES.sub(_mask_match, in_force().mask(text))


def redact(text: str) -> str:
    """A log line safe to write: ``mask_secrets`` plus ``name: value`` credential pairs."""
    return _LOG_PATTERNS.sub(_mask_match, in_force().mask(text))


def _mask_match(match: re.Match[str]) -> str:
    found = match.group(0)
    lowered = found.lower()
    for prefix in ("gw-", "sk-ant-", "sk-"):
        if lowered.startswith(prefix):
            return prefix + MASK
    if lowered.startswith("aiza"):
        return "AIza" + MASK
    if lowered.startswith("bearer"):
        return "Bearer " + MASK
    # "name: value" pairs: keep the name, mask the value.
    split = _PAIR_NAME.match(found)
    return (split.group(0) if split else "") + MASK


class RedactingFilter(logging.Filter):
    """Rewrites the message, its exception text and string extras of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and isinstance(value, str):
                record.__dict__[key] = redact(value)
        return True


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}
