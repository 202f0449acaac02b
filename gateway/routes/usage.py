"""GET /api/v1/usage (aggregates), /api/v1/usage/logs (request log), /api/v1/usage/me."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, Final

from aiohttp import web

from gateway.endpoints import Operation, add_route
from gateway.errors import InvalidRequest, NotFound
from gateway.keys.principal import ANONYMOUS, PRINCIPAL
from gateway.ledger.aggregates import COUNTERS, DIMENSIONS, Dimension, query
from gateway.ledger.redis import MAX_DAYS
from gateway.ledger.service import LEDGER, SPEND_SCHEMA, Ledger
from gateway.routes.common import optional_parameter

DEFAULT_DAYS: Final = 30
DEFAULT_LOGS: Final = 100
MAX_LOGS: Final = 1000
_CURSOR = re.compile(r"[0-9]{1,15}-[0-9]{1,19}")
_STATUS = re.compile(r"ok|error|[1-5][0-9][0-9]")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _ledger(request: web.Request) -> Ledger:
    ledger = request.app.get(LEDGER)
    if ledger is None:
        raise NotFound("The usage ledger is off (usage.enabled: false).", code="usage_disabled")
    return ledger


def _day(text: str, param: str) -> date:
    """``YYYY-MM-DD`` or an ISO date-time (its UTC day)."""
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"{param}: expected a date (YYYY-MM-DD) or an ISO 8601 date-time.", param=param
        ) from None
    if moment.tzinfo is None:
        return moment.date()
    try:
        return moment.astimezone(UTC).date()
    except OverflowError:  # 9999-12-31T23:00-05:00: past the calendar's end in UTC
        return moment.date()


def _given(request: web.Request) -> dict[str, str]:
    """The query's parameters; an empty value is the same as leaving the parameter out."""
    return {name: value for name, value in request.query.items() if value}


def _group_by(text: str | None) -> tuple[Dimension, ...]:
    if text is None:
        return DIMENSIONS
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in DIMENSIONS]
    if unknown:
        raise InvalidRequest(
            f"group_by: unknown {', '.join(unknown)}; use day, key, provider or model.",
            param="group_by",
        )
    return tuple(d for d in DIMENSIONS if d in names)


def _days_before(end: date, days: int) -> date:
    """The first day of the ``days`` days that end with ``end``."""
    return date.fromordinal(max(end.toordinal() - days + 1, 1))


async def usage(request: web.Request) -> web.Response:
    ledger = _ledger(request)
    params = _given(request)
    today = datetime.fromtimestamp(ledger.clock(), UTC).date()
    end = _day(params["to"], "to") if "to" in params else today
    start = _day(params["from"], "from") if "from" in params else _days_before(end, DEFAULT_DAYS)
    # At most MAX_DAYS days, the latest ones; from after to: no day at all.
    first, last = max(start, _days_before(end, MAX_DAYS)).isoformat(), end.isoformat()
    group_by = _group_by(request.query.get("group_by"))
    rows = await ledger.rows(first, last)
    data, totals = query(
        rows,
        first,
        last,
        group_by,
        key_id=params.get("key_id"),
        provider=params.get("provider"),
        model=params.get("model"),
    )
    return web.json_response(
        {
            "object": "usage",
            "from": first,
            "to": last,
            "group_by": list(group_by),
            "data": data,
            "totals": totals,
        }
    )


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LOGS
    if not text.isdigit() or not 1 <= int(text) <= MAX_LOGS:
        raise InvalidRequest(f"limit: an integer from 1 to {MAX_LOGS}.", param="limit")
    return int(text)


async def usage_logs(request: web.Request) -> web.Response:
    ledger = _ledger(request)
    params = _given(request)
    limit = _limit(params.get("limit"))
    before = params.get("before")
    if before is not None and not _CURSOR.fullmatch(before):
        raise InvalidRequest(
            "before: an entry's id (as listed), such as 1700000000000-0.", param="before"
        )
    status = params.get("status")
    if status is not None and not _STATUS.fullmatch(status):
        raise InvalidRequest("status: ok, error, or an HTTP status code.", param="status")
    page = await ledger.logs(limit, before, params.get("key_id"), status)
    entries = page.entries
    next_before = entries[-1]["id"] if len(entries) == limit else None
    return web.json_response({"object": "list", "data": entries, "next_before": next_before})


async def usage_me(request: web.Request) -> web.Response:
    ledger = _ledger(request)
    return web.json_response(await ledger.me(request.get(PRINCIPAL, ANONYMOUS)))


_COUNTS: dict[str, Any] = {
    **{name: {"type": "integer"} for name in COUNTERS if name != "cost"},
    "cost_usd": {
        "type": ["number", "null"],
        "description": "At the prices in force when each request ended; null when no "
        "request in the group had a known price (see unpriced_requests)",
    },
}
TOTALS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": list(_COUNTS),
    "properties": _COUNTS,
}
ROW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": list(_COUNTS),
    "properties": {
        "day": {"type": "string", "format": "date"},
        "key_id": {"type": "string", "description": "A key id, admin or anonymous"},
        "provider": {"type": ["string", "null"]},
        "model": {"type": ["string", "null"]},
        **_COUNTS,
    },
}
USAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["object", "from", "to", "group_by", "data", "totals"],
    "properties": {
        "object": {"const": "usage"},
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "group_by": {"type": "array", "items": {"enum": list(DIMENSIONS)}},
        "data": {"type": "array", "items": ROW_SCHEMA},
        "totals": TOTALS_SCHEMA,
    },
}
ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "time",
        "request_id",
        "key_id",
        "provider",
        "model",
        "route",
        "status",
        "streamed",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "reasoning_tokens",
        "cost_usd",
        "latency_ms",
        "ttft_ms",
        "attempts",
    ],
    "properties": {
        "id": {"type": "string", "description": "Cursor: pass as before= for older entries"},
        "time": {"type": "string", "format": "date-time"},
        "request_id": {"type": "string"},
        "key_id": {"type": "string"},
        "provider": {"type": ["string", "null"]},
        "model": {"type": ["string", "null"], "description": "As routed to the provider"},
        "route": {"type": "string"},
        "status": {"type": "integer"},
        "streamed": {"type": "boolean"},
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "cached_tokens": {"type": "integer"},
        "reasoning_tokens": {"type": "integer"},
        "cost_usd": {"type": ["number", "null"], "description": "null: unknown price"},
        "latency_ms": {"type": "number"},
        "ttft_ms": {"type": ["number", "null"], "description": "Streams only"},
        "attempts": {"type": "integer", "description": "Upstream attempts (fallbacks)"},
    },
}
LOGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["object", "data", "next_before"],
    "properties": {
        "object": {"const": "list"},
        "data": {"type": "array", "items": ENTRY_SCHEMA},
        "next_before": {
            "type": ["string", "null"],
            "description": "before= for the next (older) page; null when this page was the last",
        },
    },
}
ME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "key_id",
        "name",
        "budget_usd",
        "max_tokens",
        "budget_period",
        "spend",
        "last_used_at",
    ],
    "properties": {
        "key_id": {"type": "string"},
        "name": {"type": "string"},
        "budget_usd": {"type": ["number", "null"]},
        "max_tokens": {"type": ["integer", "null"]},
        "budget_period": {"enum": ["day", "month", "total"]},
        "spend": SPEND_SCHEMA,
        "last_used_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


LEDGER_ERRORS: dict[int, str] = {404: "Ledger off", 503: "The Redis backend cannot be reached"}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return optional_parameter("query", name, description, **schema)


_WHEN: dict[str, Any] = {"anyOf": [{"format": "date"}, {"format": "date-time"}, {"maxLength": 0}]}
_NAME = "(day|key|provider|model)?"
EMPTY_IS_ABSENT = " An empty value is the same as leaving the parameter out."


def setup(app: web.Application) -> None:
    add_route(
        app,
        "GET",
        "/api/v1/usage",
        usage,
        group="admin",
        operation=Operation(
            summary="Usage and cost added up per UTC day, key, provider and model",
            tag="usage",
            parameters=(
                _query(
                    "from",
                    "First day, YYYY-MM-DD or ISO date-time (default: to - 29 days). A query "
                    f"covers at most {MAX_DAYS} days: an earlier from is moved up to the first "
                    f"of the {MAX_DAYS} days that end with to (the answer's from says which); "
                    "a from after to covers no day (no rows, zero totals)." + EMPTY_IS_ABSENT,
                    **_WHEN,
                ),
                _query(
                    "to", "Last day, inclusive (default: today, UTC)." + EMPTY_IS_ABSENT, **_WHEN
                ),
                _query("key_id", "Only this key (a key id, admin or anonymous)." + EMPTY_IS_ABSENT),
                _query("provider", "Only this provider id." + EMPTY_IS_ABSENT),
                _query("model", "Only this model (as routed)." + EMPTY_IS_ABSENT),
                _query(
                    "group_by",
                    "Comma-separated subset of day,key,provider,model (default: all four; "
                    "empty: one row, the totals)",
                    pattern=f"^ *{_NAME} *(, *{_NAME} *)*$",
                ),
            ),
            responses={
                200: {"description": "Aggregate rows", "schema": USAGE_SCHEMA},
                **LEDGER_ERRORS,
            },
        ),
    )
    add_route(
        app,
        "GET",
        "/api/v1/usage/logs",
        usage_logs,
        group="admin",
        operation=Operation(
            summary="The request log, newest first (no prompt or answer content)",
            tag="usage",
            parameters=(
                _query(
                    "limit",
                    f"Entries per page (default {DEFAULT_LOGS})",
                    type="integer",
                    minimum=1,
                    maximum=MAX_LOGS,
                ),
                _query(
                    "before",
                    "Only entries older than this id (next_before of a page)." + EMPTY_IS_ABSENT,
                    pattern=f"^({_CURSOR.pattern})?$",
                ),
                _query("key_id", "Only this key." + EMPTY_IS_ABSENT),
                _query(
                    "status",
                    "ok, error, or one HTTP status code." + EMPTY_IS_ABSENT,
                    pattern=f"^({_STATUS.pattern})?$",
                ),
            ),
            responses={
                200: {"description": "Log entries", "schema": LOGS_SCHEMA},
                **LEDGER_ERRORS,
            },
        ),
    )
    add_route(
        app,
        "GET",
        "/api/v1/usage/me",
        usage_me,
        group="default",
        operation=Operation(
            summary="The calling key's own budget, spend this period and last use",
            tag="usage",
            responses={
                200: {"description": "The caller's usage", "schema": ME_SCHEMA},
                404: "Ledger off",
            },
        ),
    )
