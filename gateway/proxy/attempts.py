"""Per-request bookkeeping of upstream attempts: metrics, upstream wait, passive health.

Kept apart from the fallback loops so both paths record an attempt the same way.
"""

from __future__ import annotations

import time
from typing import Final

from aiohttp import web

from gateway.adapters.base import StreamUsage
from gateway.health.state import PROVIDER_HEALTH
from gateway.metrics import METRICS, UpstreamOutcome, add_upstream_wait
from gateway.usage import FACTS, RequestFacts, on_usage

HEALTHY_OUTCOMES: Final = frozenset({"ok", "client_error", "cancelled"})
"""Attempts that say the provider works (a 4xx other than 429 is the caller's problem)."""


class Attempts:
    """One request's attempts, and its RequestFacts, which the ledger reads when it is over."""

    __slots__ = ("facts", "health", "metrics", "request")

    def __init__(self, request: web.Request, *, streamed: bool = False) -> None:
        self.request = request
        self.metrics = request.app[METRICS]
        self.health = request.app[PROVIDER_HEALTH]
        self.facts = request[FACTS] = RequestFacts(streamed=streamed)

    def first_chunk(self, provider_id: str, model: str, started: float) -> None:
        """The answer's first chunk is ready to go to the client: time to first token."""
        seconds = time.perf_counter() - started
        self.facts.ttft = seconds
        self.metrics.observe_ttft(provider_id, model, seconds)

    def settle(
        self, provider_id: str, model: str, outcome: UpstreamOutcome, started: float
    ) -> None:
        """One attempt is over: its latency, its outcome, and what the breaker learns."""
        seconds = time.perf_counter() - started
        facts = self.facts
        facts.attempts += 1
        facts.provider = provider_id
        facts.model = model
        add_upstream_wait(self.request, seconds)
        self.metrics.record_upstream(provider_id, model, outcome, seconds)
        self.health.record_traffic(provider_id, outcome in HEALTHY_OUTCOMES)

    def used(self, provider_id: str, model: str, usage: StreamUsage) -> None:
        """The answering attempt's usage: kept in the facts (for the ledger), and handed on."""
        self.facts.usage = usage
        on_usage(self.request, provider_id, model, usage)
