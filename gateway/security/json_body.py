"""Parse a JSON request body with bounds on structure, nesting depth and string length.

orjson parses fast but builds every container it reads, on the event loop: a
20 MB body of ``{},{},...`` costs seconds. So the structure is counted first,
at C speed on the raw bytes (containers and commas, outside strings; for a large
body in a worker thread), and a body over ``max_json_containers`` or
``max_json_items`` is refused before parsing. The walk afterwards (depth, string
length) is then bounded by those counts too. ``benchmarks/json_bounds.py``
measures the refusal against ``orjson.loads`` and health latency meanwhile.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson

from gateway.errors import InvalidRequest
from gateway.settings import SecuritySettings, Settings

_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
"""A JSON string literal (escapes included), unrolled so the engine runs through it fast."""


OFF_LOOP_BYTES = 1 << 20
"""Bodies larger than this have their structure counted in a worker thread."""
_SLICE = 1 << 20
"""Counts run over slices this long, so a thread hands the GIL back to the loop often."""


async def read_json_body(raw: bytes, settings: Settings) -> Any:
    """``parse_json_body`` for a handler: a large body's structure is counted off the loop."""
    if len(raw) <= OFF_LOOP_BYTES:
        return parse_json_body(raw, settings)
    containers = await asyncio.to_thread(check_structure, raw, settings.security)
    return _parse(raw, settings.security, containers)


def parse_json_body(raw: bytes, settings: Settings) -> Any:
    """The decoded body, or InvalidRequest naming the offending field path."""
    bounds = settings.security
    return _parse(raw, bounds, check_structure(raw, bounds))


def _parse(raw: bytes, bounds: SecuritySettings, containers: int) -> Any:
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
    # No decoded string is longer than the body, and nesting needs one container per
    # level: when the counts prove the bounds hold, the walk is skipped.
    if len(raw) > bounds.max_string_length or containers > bounds.max_json_depth:
        check_json_bounds(data, bounds.max_json_depth, bounds.max_string_length)
    return data


def check_structure(raw: bytes, bounds: SecuritySettings) -> int:
    """Refuse a body with too many containers or items; the container count (an upper bound).

    Brackets and commas are counted on the raw bytes first (they overcount: strings
    may hold some); only when that is over a limit are the ones inside strings
    taken off. Each count stops as soon as the answer is known.
    """
    max_containers, max_items = bounds.max_json_containers, bounds.max_json_items
    if len(raw) <= _SLICE:  # the usual body: one count each, no slicing
        containers = raw.count(b"{") + raw.count(b"[")
        if containers <= max_containers and raw.count(b",") < max_items:
            return containers
    containers = _count(raw, b"{", max_containers)
    if containers <= max_containers:
        containers += _count(raw, b"[", max_containers - containers)
    commas = _count(raw, b",", max_items) if containers <= max_containers else 0
    if containers <= max_containers and commas < max_items:
        return containers
    containers, commas = _count(raw, b"{") + _count(raw, b"["), _count(raw, b",")
    for string in _STRINGS.finditer(raw):
        start, end = string.span()
        containers -= raw.count(b"{", start, end) + raw.count(b"[", start, end)
        commas -= raw.count(b",", start, end)
    if containers > max_containers:
        raise InvalidRequest(
            f"The request body has more than {max_containers} objects and arrays.",
            code="json_too_complex",
        )
    if commas >= max_items:
        raise InvalidRequest(
            f"The request body has more than {max_items} array elements and object members.",
            code="json_too_complex",
        )
    return containers


def _count(raw: bytes, byte: bytes, stop_above: int | None = None) -> int:
    """How often ``byte`` occurs, slice by slice; stops early once over ``stop_above``."""
    total = 0
    for start in range(0, len(raw), _SLICE):
        total += raw.count(byte, start, start + _SLICE)
        if stop_above is not None and total > stop_above:
            break
    return total


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
