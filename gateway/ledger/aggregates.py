"""Usage added up per UTC day x key x provider x model, and queries over those rows.

A row's counters are plain integers (cost in pico-USD), so adding rows from
several processes or instances is exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypeVar

from gateway.ledger.pricing import usd
from gateway.ledger.record import Entry

GroupKey = tuple[str, str, str, str]
"""(day, key_id, provider, model)."""
Dimension = Literal["day", "key", "provider", "model"]
DIMENSIONS: Final[tuple[Dimension, ...]] = ("day", "key", "provider", "model")
COUNTERS: Final = (
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost",
    "unpriced_requests",
)
COST: Final = COUNTERS.index("cost")
Rows = dict[GroupKey, list[int]]
K = TypeVar("K")


def add_into(rows: dict[K, list[int]], key: K, counters: Iterable[int]) -> None:
    row = rows.get(key)
    if row is None:
        rows[key] = list(counters)
        return
    for index, value in enumerate(counters):
        row[index] += value


def add_entry(rows: Rows, entry: Entry) -> None:
    """Count one request into ``rows`` (hot path: no intermediate lists, zeros not added)."""
    (_, day, _, key_id, provider, model, _, status, _,
     prompt, completion, cached, reasoning, cost, _, _, _) = entry  # fmt: skip
    row = rows.get((day, key_id, provider, model))
    if row is None:
        rows[day, key_id, provider, model] = [
            1,
            1 if status >= 400 else 0,
            prompt,
            completion,
            cached,
            reasoning,
            cost or 0,
            1 if cost is None else 0,
        ]
        return
    row[0] += 1
    if status >= 400:
        row[1] += 1
    if prompt:
        row[2] += prompt
    if completion:
        row[3] += completion
    if cached:
        row[4] += cached
    if reasoning:
        row[5] += reasoning
    if cost is None:
        row[7] += 1
    elif cost:
        row[6] += cost


def merge(*parts: Mapping[GroupKey, list[int]]) -> Rows:
    out: Rows = {}
    for part in parts:
        for key, counters in part.items():
            add_into(out, key, counters)
    return out


def _shown(counters: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = dict(zip(COUNTERS, counters, strict=True))
    cost = out.pop("cost")
    # Only requests of unknown price: no cost at all (null, never 0).
    out["cost_usd"] = None if counters[0] and counters[7] == counters[0] else usd(cost)
    return out


def query(
    rows: Mapping[GroupKey, list[int]],
    first_day: str,
    last_day: str,
    group_by: tuple[Dimension, ...],
    key_id: str | None = None,
    provider: str | None = None,
    model: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows within the days and filters, added up by ``group_by``; and their grand total."""
    grouped: dict[tuple[str, ...], list[int]] = {}
    total = [0] * len(COUNTERS)
    picks = [DIMENSIONS.index(d) for d in group_by]
    for key, counters in rows.items():
        day, row_key, row_provider, row_model = key
        if not first_day <= day <= last_day:
            continue
        if key_id is not None and row_key != key_id:
            continue
        if provider is not None and row_provider != provider:
            continue
        if model is not None and row_model != model:
            continue
        group = tuple(key[i] for i in picks)
        add_into(grouped, group, counters)
        for index, amount in enumerate(counters):
            total[index] += amount
    data = []
    for group, counters in sorted(grouped.items()):
        row: dict[str, Any] = {}
        for dimension, value in zip(group_by, group, strict=True):
            name = "key_id" if dimension == "key" else dimension
            row[name] = value if value or dimension in ("day", "key") else None
        row.update(_shown(counters))
        data.append(row)
    return data, _shown(total)
