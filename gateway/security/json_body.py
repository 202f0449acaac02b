"""Parse a JSON request body with bounds on nesting depth and string length.

orjson parses fast but accepts anything up to its own recursion limit; the
walk afterwards keeps a crafted body from costing the handlers more than the
configured bounds.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import InvalidRequest
from gateway.settings import Settings


def parse_json_body(raw: bytes, settings: Settings) -> Any:
    """The decoded body, or InvalidRequest naming the offending field path."""
    if not raw.strip():
        raise InvalidRequest(
            "The request body is empty; a JSON object was expected.", code="invalid_json"
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "recursion" in str(exc):
            raise InvalidRequest("The request body is nested too deeply.") from None
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from None
    check_json_bounds(data, settings.security.max_json_depth, settings.security.max_string_length)
    return data


def check_json_bounds(data: Any, max_depth: int, max_string: int) -> None:
    """Walk ``data`` without recursion; refuse too-deep nesting or too-long strings."""
    stack: list[tuple[Any, int, tuple[str, ...]]] = [(data, 1, ())]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict):
            if depth > max_depth:
                raise _too_deep(path, max_depth)
            for key, item in value.items():
                if len(key) > max_string:
                    raise _too_long(path, max_string)
                if isinstance(item, str):
                    if len(item) > max_string:
                        raise _too_long((*path, key), max_string)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1, (*path, key)))
        elif isinstance(value, list):
            if depth > max_depth:
                raise _too_deep(path, max_depth)
            for index, item in enumerate(value):
                if isinstance(item, str):
                    if len(item) > max_string:
                        raise _too_long((*path, str(index)), max_string)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1, (*path, str(index))))
        elif isinstance(value, str) and len(value) > max_string:
            raise _too_long(path, max_string)


def _param(path: tuple[str, ...]) -> str | None:
    return ".".join(path) or None


def _too_deep(path: tuple[str, ...], limit: int) -> InvalidRequest:
    return InvalidRequest(
        f"The request body is nested more than {limit} levels deep.", param=_param(path)
    )


def _too_long(path: tuple[str, ...], limit: int) -> InvalidRequest:
    return InvalidRequest(
        f"A string in the request body is longer than {limit} characters.", param=_param(path)
    )
