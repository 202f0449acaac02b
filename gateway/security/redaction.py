"""A logging filter that masks credentials before any handler formats a record.

It catches what looks like a key (gateway ``gw-`` keys, ``sk-`` provider keys,
Bearer tokens, ``x-api-key: ...`` pairs) and the exact values of configured
secrets registered at start-up (the admin key, the metrics token), whose shape
cannot be guessed.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

_PATTERNS = re.compile(
    r"gw-[A-Za-z0-9_\-]{8,}"
    r"|sk-[A-Za-z0-9_\-]{8,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]+"
    r"|(?i:(?:x-api-key|api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?)"
    r"(?i:(?:bearer|basic|token)\s+)?[^\s\"',;}]+"
)

_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it appears (ignored when short or empty)."""
    if value and len(value) >= 6:
        _registered.add(value)


def redact(text: str) -> str:
    """``text`` with every credential-looking part replaced by ``***``."""
    for secret in _registered:
        if secret in text:
            text = text.replace(secret, MASK)
    return _PATTERNS.sub(_mask_match, text)


def looks_secret(text: str) -> bool:
    """Whether ``redact`` would change ``text``."""
    return _PATTERNS.search(text) is not None or any(secret in text for secret in _registered)


def _mask_match(match: re.Match[str]) -> str:
    found = match.group(0)
    lowered = found.lower()
    if lowered.startswith("gw-"):
        return "gw-" + MASK
    if lowered.startswith("sk-"):
        return "sk-" + MASK
    if lowered.startswith("bearer"):
        return "Bearer " + MASK
    # "name: value" pairs: keep the name, mask the value.
    split = re.match(r"(?i)(?:x-api-key|api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?", found)
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
