"""Validated field types shared by templates, provider records, providers.d files and keys.

Names and model names refuse control characters (they end up in logs and
terminals); header values refuse CR, LF and NUL (they would split requests) and
are never echoed, since they may carry credentials.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
"""RFC 7230 token: what a header name may be."""
RESERVED_HEADERS = frozenset(
    {
        # Framing: owned by the HTTP client; a second copy is a request-smuggling risk.
        "host", "content-length", "transfer-encoding", "connection", "keep-alive",
        "proxy-connection", "te", "trailer", "upgrade", "expect",
        # Credentials: the provider's api_key and its template's auth header carry them.
        "authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "api-key",
    }
)  # fmt: skip


def check_http_url(value: str) -> str:
    """http or https, with a host, no user-info, query or fragment."""
    if any(ch.isspace() or ch in "\0" for ch in value):
        raise ValueError("must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain user-info (put credentials in api_key or headers)")
    if parts.query or parts.fragment:
        raise ValueError("must not contain a query or fragment")
    return value


def check_headers(value: dict[str, str]) -> dict[str, str]:
    """Names are RFC 7230 tokens, not framing or credential headers; no CR, LF, NUL in values."""
    problems = []
    for name, item in value.items():
        if not TOKEN.match(name):
            problems.append(f"header name {name!r} is not a valid token")
        elif name.lower() in RESERVED_HEADERS:
            problems.append(
                f"header {name!r} may not be set here (framing headers belong to the HTTP "
                "client; credentials go in api_key)"
            )
        if any(ch in item for ch in "\r\n\0"):
            problems.append(f"header {name!r} value contains CR, LF or NUL")
    if problems:
        raise ValueError("; ".join(problems))
    return value


def check_header_safe(value: str) -> str:
    """A value that goes into a header (a provider key): no CR, LF or NUL."""
    if any(ch in value for ch in "\r\n\0"):
        raise ValueError("must not contain CR, LF or NUL")
    return value


def check_printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must contain printable characters only")
    return value


ProviderId = Annotated[str, Field(pattern=ID_PATTERN)]
HttpUrl = Annotated[str, Field(max_length=2000), AfterValidator(check_http_url)]
HeaderMap = Annotated[
    dict[str, Annotated[str, Field(max_length=8000)]], AfterValidator(check_headers)
]
DisplayName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(check_printable)]
ModelName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(check_printable)]


def slugify(name: str) -> str:
    """A provider id derived from a display name ("My OpenAI!" -> "my-openai")."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return slug[:63].rstrip("-_")


def yaml_problem(exc: Exception) -> str:
    """A YAML error as problem and position only: PyYAML's own text quotes the file's lines."""
    problem = getattr(exc, "problem", None) or "syntax error"
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return str(problem)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
