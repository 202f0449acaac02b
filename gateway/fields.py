"""Validated field types shared by templates, provider records, providers.d files and keys.

Names and model names refuse control characters (they end up in logs and
terminals); header values refuse CR, LF and NUL (they would split requests) and
are never echoed, since they may carry credentials. Each rule is also stated in
the JSON schema (a ``pattern``), so /api/v1/openapi.json describes what is refused.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic.config import JsonDict

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


NO_CONTROLS = r"^[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
"""No control characters, line separators or bidirectional controls: text that would
break or disguise a log line. Python, Rust (pydantic) and ECMA regexes read it alike."""
_NO_CONTROLS = re.compile(NO_CONTROLS)
HEADER_VALUE = r"^[^\r\n\x00]*$"
HOST_PORT = (
    r"[A-Za-z0-9._~-]+(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}"
    r"|[1-5][0-9]{4}|[0-9]{1,4}))?"
)
"""A host name or IPv4 address and an optional port, as the schema describes URLs (IPv6
literals are taken too, but left out of the description)."""
HTTP_URL = rf"^[hH][tT][tT][pP][sS]?://{HOST_PORT}(/[^\s?#\x00]*)?$"


def _any_case(word: str) -> str:
    """A pattern matching ``word`` in any case (ECMA regexes have no inline flags)."""
    return "".join(f"[{ch.lower()}{ch.upper()}]" if ch.isalpha() else ch for ch in word)


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


def check_no_controls(value: str) -> str:
    if not _NO_CONTROLS.match(value):
        raise ValueError("must not contain control, line-separator or bidirectional characters")
    return value


def whole_float_as_int(value: object) -> object:
    """JSON Schema's integers include ``2.0``: a whole float becomes the int it spells."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


WHOLE = BeforeValidator(whole_float_as_int)
"""Last in ``Annotated[int, Strict(), Field(ge=.., le=..), WHOLE]``: an integer (``2`` or
``2.0``), never a boolean (``true`` is not 1); placed after the bounds, the JSON schema
still states them."""


ProviderId = Annotated[str, Field(pattern=ID_PATTERN)]
HttpUrl = Annotated[
    str,
    Field(max_length=2000, json_schema_extra={"pattern": HTTP_URL}),
    AfterValidator(check_http_url),
]
HEADER_NAMES_SCHEMA = {
    "pattern": TOKEN.pattern,
    "not": {"pattern": "^(" + "|".join(map(_any_case, sorted(RESERVED_HEADERS))) + ")$"},
}
"""A header name as check_headers takes it: an RFC 7230 token, no reserved header (any case)."""
HeaderMap = Annotated[
    dict[str, Annotated[str, Field(max_length=8000, json_schema_extra={"pattern": HEADER_VALUE})]],
    AfterValidator(check_headers),
    Field(json_schema_extra={"propertyNames": HEADER_NAMES_SCHEMA}),
]
_TEXT: JsonDict = {"pattern": NO_CONTROLS}
DisplayName = Annotated[
    str,
    Field(min_length=1, max_length=100, json_schema_extra=_TEXT),
    AfterValidator(check_no_controls),
]
ModelName = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra=_TEXT),
    AfterValidator(check_no_controls),
]
MODEL_NAMES_SCHEMA: JsonDict = {"propertyNames": {"minLength": 1, "maxLength": 200, **_TEXT}}
"""For a field keyed by model names: pydantic states no pattern for a dict's keys."""


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
