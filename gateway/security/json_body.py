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
    bounds = settings.security
    if not _within_bounds_by_size(raw, bounds.max_json_depth, bounds.max_string_length):
        check_json_bounds(data, bounds.max_json_depth, bounds.max_string_length)
    return data


def _within_bounds_by_size(raw: bytes, max_depth: int, max_string: int) -> bool:
    """True when the raw bytes alone prove the bounds hold, so the walk can be skipped.

    No decoded string is longer than the body, and nesting needs one bracket per
    level (brackets inside strings only overcount).
    """
    return len(raw) <= max_string and raw.count(b"[") + raw.count(b"{") <= max_depth


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
