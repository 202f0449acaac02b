"""The ledger on the request path: one entry per metered request, budgets, key views.

``record`` runs in the middleware frame once a request on a ``chat``-group
route (chat, embeddings, and the routes built on the proxy) is over, also when
it failed: it keeps the facts the proxy gathered (provider, model, usage,
attempts, time to first token) and the price in force, in a batch. ``drain``
counts the batch DRAIN_DELAY_S later, and before anything reads the ledger: it
prices each entry's usage and hands it to the backend, which only counts it in
memory. Counted many at once, in one loop, an entry costs about a third of what
it costs counted alone between two requests' work (its code and data are cold
there).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from gateway.cluster.client import REDIS
from gateway.errors import QuotaExceeded
from gateway.keys.principal import Budget, BudgetPeriod, Principal
from gateway.ledger.aggregates import Rows
from gateway.ledger.file import FileLedger
from gateway.ledger.pricing import PICO_PER_USD, Rate, usd
from gateway.ledger.record import Entry, UsageRecord, Window, day_of, iso, window
from gateway.ledger.sink import JsonLinesSink
from gateway.ledger.store import LedgerStore, LogPage, Spend
from gateway.metrics import METRICS, Metrics
from gateway.providers.live import ProviderDirectory
from gateway.providers.registry import PROVIDERS
from gateway.state import SETTINGS
from gateway.tallies import CounterTally
from gateway.usage import FACTS, RequestFacts

Clock = Callable[[], float]
DRAIN_DELAY_S = 0.02
"""How long a finished request waits in the batch at most (budget checks and reads drain
it at once): at 5,000 requests/s, a hundred are counted together."""
DRAIN_AFTER = 512
"""At this many requests in the batch, it is counted at once."""
MAX_METERS = 10_000
"""Distinct (provider, model) pairs whose Meter the ledger remembers."""


@dataclass(frozen=True, slots=True)
class Meter:
    """One provider x model's rate and the cost series it counts into (looked up once)."""

    rate: Rate | None
    """None: no price known."""
    series: CounterTally | None
    """Set when ``rate`` is: an unpriced model shows no cost series at all."""
    labels: int
    """The metrics' model-label generation ``series`` was chosen in."""


Finished = tuple[RequestFacts | None, Meter | None, str, str, int, float, str, float]
"""A request as ``record`` keeps it: facts, its Meter then (price changes apply from then
on), key id, route, status, seconds taken, request id, time."""


class Ledger:
    """Records metered requests into a backend (and a JSON-lines sink), checks budgets."""

    def __init__(
        self,
        store: LedgerStore,
        directory: ProviderDirectory,
        metrics: Metrics,
        sink: JsonLinesSink | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self.directory = directory
        self.metrics = metrics
        self.sink = sink
        self.clock = clock
        """Wall time; tests replace it to move between budget periods."""
        self._meters: dict[tuple[str, str], Meter] = {}
        """(provider, model) -> its Meter: one lookup per request; emptied on provider changes."""
        self._labels = metrics.models
        directory.subscribe(self._forget_meters)
        self._day = ""
        self._day_start = self._day_end = 0.0
        """The UTC day of the last entry and its bounds (Unix seconds): one comparison a request."""
        self._batch: list[Finished] = []
        """Requests over but not counted yet: ``drain`` counts them."""

    def _forget_meters(self, provider_id: str | None) -> None:
        self._meters.clear()

    def record(
        self,
        request: web.Request,
        principal: Principal,
        route: str,
        status: int,
        elapsed: float,
        request_id: str,
    ) -> None:
        """One metered request is over (``status`` as the client got it): batch it."""
        try:
            facts: RequestFacts | None = request[FACTS]
        except KeyError:  # answered before the proxy ran
            facts = None
        meter = None
        if facts is not None and facts.usage is not None:
            key = (facts.provider or "", facts.model or "")
            meter = self._meters.get(key)
            if meter is None or meter.labels != self._labels.generation:
                meter = self._meter(*key)
        batch = self._batch
        batch.append(
            (facts, meter, principal.key_id or "anonymous", route, status, elapsed, request_id,
             self.clock())
        )  # fmt: skip
        if len(batch) == 1:
            try:
                asyncio.get_running_loop().call_later(DRAIN_DELAY_S, self.drain)
            except RuntimeError:  # no loop (a script): count at once
                self.drain()
        elif len(batch) >= DRAIN_AFTER:
            self.drain()

    def drain(self) -> None:
        """Count the batched requests into the backend, the sink and the cost metric.

        Per entry: a plain tuple; the UTC day is kept until the clock leaves it.
        """
        batch = self._batch
        if not batch:
            return
        self._batch = []
        entries: list[Entry] = []
        add, sink = entries.append, self.sink
        for facts, meter, key_id, route, status, elapsed, request_id, now in batch:
            cost: int | None = 0
            if facts is None:
                provider = model = ""
                streamed = False
                ttft_ms = None
                attempts = prompt = completion = cached = reasoning = 0
            else:
                provider = facts.provider or ""
                model = facts.model or ""
                streamed = facts.streamed
                ttft = facts.ttft
                ttft_ms = ttft * 1000.0 if ttft is not None else None
                attempts = facts.attempts
                usage = facts.usage
                if usage is None or meter is None:
                    prompt = completion = cached = reasoning = 0
                else:
                    prompt = usage.prompt_tokens
                    completion = usage.completion_tokens
                    cached = usage.cached_tokens
                    reasoning = usage.reasoning_tokens
                    rate, series = meter.rate, meter.series
                    if not (prompt or completion):
                        pass  # cost 0: nothing was used
                    elif rate is None or series is None:
                        cost = None
                    else:
                        cost = rate.cost(prompt, completion, cached, usage.cache_write_tokens)
                        if cost:
                            series.inc(cost / PICO_PER_USD)
            if not self._day_start <= now < self._day_end:
                self._day = day_of(now)
                self._day_start = (now // 86400) * 86400
                self._day_end = self._day_start + 86400
            entry: Entry = (
                now,
                self._day,
                request_id,
                key_id,
                provider,
                model,
                route,
                status,
                streamed,
                prompt,
                completion,
                cached,
                reasoning,
                cost,
                elapsed * 1000.0,
                ttft_ms,
                attempts,
            )
            add(entry)
            if sink is not None:
                sink.add(orjson.dumps(UsageRecord(*entry).as_json()))
        self.store.add(entries)

    def _meter(self, provider: str, model: str) -> Meter:
        """The provider's rate for ``model`` and its cost series, remembered."""
        live = self.directory.get(provider) if provider else None
        rate = live.prices.rate(model) if live is not None else None
        series = self.metrics.cost_series(provider, model) if rate is not None else None
        meter = Meter(rate, series, self._labels.generation)
        if len(self._meters) < MAX_METERS:
            self._meters[provider, model] = meter
        return meter

    # budgets -----------------------------------------------------------------

    async def check_budget(self, principal: Principal, budget: Budget) -> None:
        """Raise QuotaExceeded once the key's use this period reached its budget."""
        self.drain()
        win = window(budget.period, self.clock())
        (spent,) = await self.store.spend([principal.key_id or "anonymous"], [win])
        if budget.usd is not None and spent.cost >= round(budget.usd * PICO_PER_USD):
            what = f"budget of ${budget.usd:,.2f}"
        elif budget.max_tokens is not None and spent.tokens >= budget.max_tokens:
            what = f"token limit of {budget.max_tokens:,} tokens"
        else:
            return
        self.metrics.record_budget_refused(budget.period)
        label = {"day": "daily", "month": "monthly", "total": "total"}[budget.period]
        headers: dict[str, str] = {}
        if win.resets_at is None:
            when = "it does not reset; an admin can raise it"
        else:
            when = f"it resets at {iso(win.resets_at)}"
            headers["Retry-After"] = str(max(1, int(win.resets_at - self.clock()) + 1))
        raise QuotaExceeded(f"This key's {label} {what} is used up; {when}.", headers=headers)

    # views -------------------------------------------------------------------

    async def rows(self, first_day: str, last_day: str) -> Rows:
        """The aggregate rows of these days (inclusive), every finished request counted."""
        self.drain()
        return await self.store.rows(first_day, last_day)

    async def logs(
        self, limit: int, before: str | None, key_id: str | None, status: str | None
    ) -> LogPage:
        """A page of the request log, newest first, every finished request counted."""
        self.drain()
        return await self.store.logs(limit, before, key_id, status)

    async def key_views(self, keys: Sequence[dict[str, Any]]) -> None:
        """Add ``spend`` (this budget period) and ``last_used_at`` to key views, in place."""
        self.drain()
        now = self.clock()
        ids = [key["id"] for key in keys]
        windows = [window(key.get("budget_period") or "month", now) for key in keys]
        spent = await self.store.spend(ids, windows)
        last = await self.store.last_used(ids)
        for key, win, used in zip(keys, windows, spent, strict=True):
            key["spend"] = spend_view(win, used)
            key["last_used_at"] = iso(last[key["id"]]) if key["id"] in last else None

    async def me(self, principal: Principal) -> dict[str, Any]:
        """The caller's own limits, spend this period and last use."""
        self.drain()
        budget = principal.budget
        period: BudgetPeriod = budget.period if budget is not None else "month"
        key_id = principal.key_id or "anonymous"
        view: dict[str, Any] = {
            "key_id": key_id,
            "name": principal.name,
            "budget_usd": budget.usd if budget is not None else None,
            "max_tokens": budget.max_tokens if budget is not None else None,
            "budget_period": period,
        }
        win = window(period, self.clock())
        (spent,) = await self.store.spend([key_id], [win])
        last = await self.store.last_used([key_id])
        view["spend"] = spend_view(win, spent)
        view["last_used_at"] = iso(last[key_id]) if key_id in last else None
        return view


def spend_view(win: Window, spent: Spend) -> dict[str, Any]:
    return {
        "period": win.period,
        "period_start": iso(win.start) if win.start is not None else None,
        "resets_at": iso(win.resets_at) if win.resets_at is not None else None,
        "cost_usd": usd(spent.cost),
        "tokens": spent.tokens,
        "requests": spent.requests,
    }


SPEND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Use within the current budget period (UTC calendar)",
    "required": ["period", "period_start", "resets_at", "cost_usd", "tokens", "requests"],
    "properties": {
        "period": {"enum": ["day", "month", "total"]},
        "period_start": {"type": ["string", "null"], "format": "date-time"},
        "resets_at": {"type": ["string", "null"], "format": "date-time"},
        "cost_usd": {"type": "number", "description": "Priced requests only"},
        "tokens": {"type": "integer"},
        "requests": {"type": "integer"},
    },
}

LEDGER = web.AppKey("ledger", Ledger)


def create_store(app: web.Application) -> LedgerStore:
    settings = app[SETTINGS]
    client = app.get(REDIS)
    if client is not None:
        from gateway.ledger.redis import RedisLedger

        return RedisLedger(client, settings.storage.redis_timeout_s, settings.usage.log_entries)
    return FileLedger(
        settings.storage.path / "usage",
        settings.usage.log_entries,
        settings.usage.flush_interval_s,
    )


def setup(app: web.Application) -> None:
    """Install the ledger (unless ``usage.enabled`` is false); after ``services.setup``."""
    config = app[SETTINGS].usage
    if not config.enabled:
        return
    sink = None
    if config.log_path is not None:
        sink = JsonLinesSink(config.log_path, config.log_max_bytes, config.log_backups)
    app[LEDGER] = Ledger(create_store(app), app[PROVIDERS], app[METRICS], sink)
    app.cleanup_ctx.append(_ledger_context)


async def _ledger_context(app: web.Application) -> AsyncIterator[None]:
    """Open the backend before serving; write what is pending after the last request."""
    ledger = app[LEDGER]
    await ledger.store.open()
    yield
    ledger.drain()
    await ledger.store.close()
    if ledger.sink is not None:
        ledger.sink.close()
