"""Refuse control characters in the short strings people configure: ids, names, headers.

Control characters in a name end up in logs and terminals; in a header they
split requests. Each check raises InvalidRequest naming the field.
"""

from __future__ import annotations

import re

from gateway.errors import InvalidRequest

CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
HEADER_VALUE_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def has_control_chars(value: str) -> bool:
    return CONTROL_CHARS.search(value) is not None


def check_name(value: str, param: str, *, max_length: int = 200) -> str:
    """A human-readable name: 1..max_length characters, no control characters."""
    if not value or len(value) > max_length:
        raise InvalidRequest(f"{param} must be 1 to {max_length} characters.", param=param)
    if has_control_chars(value):
        raise InvalidRequest(f"{param} must not contain control characters.", param=param)
    return value


def check_id(value: str, param: str) -> str:
    """A machine id: letters, digits, '.', '_' and '-', starting alphanumeric, at most 128."""
    if not IDENTIFIER.fullmatch(value):
        raise InvalidRequest(
            f"{param} must be 1 to 128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit.",
            param=param,
        )
    return value


def check_header(name: str, value: str, param: str) -> None:
    """A header to send upstream: an RFC 9110 token name and a value without line breaks."""
    if not HEADER_NAME.fullmatch(name):
        raise InvalidRequest(f"{param}: header name is not a valid token.", param=param)
    if HEADER_VALUE_FORBIDDEN.search(value):
        # The value may be a credential: never echo it.
        raise InvalidRequest(
            f"{param}: header {name} has a control character in its value.", param=param
        )
