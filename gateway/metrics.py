"""The Prometheus instruments, defined once, and the typed calls that record into them.

One ``Metrics`` per app (``app[METRICS]``). Label values stay bounded: routes
are templates, methods and outcomes come from fixed sets, and a model label is
kept only when the provider lists that model (``register_known_models``) or
served it (among the first few unlisted names it served); any other name a
client chose becomes ``"other"``.

With ``--workers N`` the supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` (read by
prometheus-client when it is first imported) and ``metrics.multiprocess_dir``
for every worker, so /metrics adds up the numbers of all workers.

The per-request instruments go through tallies (gateway.tallies), written into
prometheus-client once per event-loop turn and before every scrape.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from contextlib import AbstractContextManager, suppress
from typing import Literal

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from gateway import __version__
from gateway.settings import MetricsSettings
from gateway.tallies import CounterTally, HistogramTally, Tallies

UpstreamOutcome = Literal[
    "ok", "client_error", "rate_limited", "server_error", "timeout", "connection_error", "cancelled"
]
CacheResult = Literal["hit", "miss", "stale"]

OTHER = "other"
MAX_UNLISTED_MODELS = 50
"""Per provider: distinct model names not in its catalog, served by it, that get their own label."""
MAX_KNOWN_MODELS = 2000
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CIRCUIT_VALUES: dict[str, int] = {"closed": 0, "half_open": 1, "open": 2}

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)

UPSTREAM_WAIT = web.RequestKey("upstream_wait", float)
"""Seconds this request spent waiting on upstreams; the access middleware subtracts it."""


def outcome_for_status(status: int) -> UpstreamOutcome:
    """The outcome label for an upstream HTTP status."""
    if status < 400:
        return "ok"
    if status == 429:
        return "rate_limited"
    return "client_error" if status < 500 else "server_error"


def add_upstream_wait(request: web.Request, seconds: float) -> None:
    """Count time spent waiting on an upstream, so gateway overhead excludes it."""
    request[UPSTREAM_WAIT] = request.get(UPSTREAM_WAIT, 0.0) + seconds


class ModelLabels:
    """Bounded model label values per provider."""

    def __init__(self) -> None:
        self._known: dict[str, frozenset[str]] = {}
        self._configured: dict[str, frozenset[str]] = {}
        self._unlisted: dict[str, set[str]] = {}
        self.generation = 0
        """Goes up whenever a label already given may change: callers holding series compare it."""

    def configure(self, provider: str, models: Iterable[str]) -> None:
        """The models a provider's configuration names (static list, aliases, allow-list)."""
        self._configured[provider] = frozenset(list(models)[:MAX_KNOWN_MODELS])
        self.generation += 1

    def register(self, provider: str, models: Iterable[str]) -> None:
        """The models a provider lists (catalog, static list, aliases) keep their own label."""
        known: list[str] = []
        for model in models:
            if len(known) >= MAX_KNOWN_MODELS:
                break
            known.append(model)
        self._known[provider] = frozenset(known)
        self.generation += 1

    def label(self, provider: str, model: str, served: bool) -> str:
        """``model``, when the provider lists it or has served it; else ``"other"``."""
        if model in self._known.get(provider, ()) or model in self._configured.get(provider, ()):
            return model
        unlisted = self._unlisted.setdefault(provider, set())
        if model in unlisted:
            return model
        if served and len(unlisted) < MAX_UNLISTED_MODELS:
            unlisted.add(model)
            return model
        return OTHER

    def forget(self, provider: str) -> None:
        self.generation += 1
        self._known.pop(provider, None)
        self._unlisted.pop(provider, None)


class Metrics:
    """Every instrument of the gateway, registered in its own registry."""

    def __init__(self, settings: MetricsSettings) -> None:
        self.registry = CollectorRegistry()
        self._exposed = self.registry
        if settings.multiprocess_dir is not None:
            self._exposed = CollectorRegistry()
            folder = str(settings.multiprocess_dir)
            MultiProcessCollector(self._exposed, path=folder)  # type: ignore[no-untyped-call]
        self.models = ModelLabels()
        # Tallies of labelled children, cached: ``labels()`` costs more than the observation.
        # Keys are label values already bounded (routes, methods, model labels).
        self._tallies = Tallies()
        self._request_series: dict[tuple[str, str, int], HistogramTally] = {}
        self._upstream_series: dict[tuple[str, str, str], HistogramTally] = {}
        self._ttft_series: dict[tuple[str, str], HistogramTally] = {}
        self._token_series: dict[tuple[str, str, str], CounterTally] = {}
        self._cost_series: dict[tuple[str, str], CounterTally] = {}
        registry = self.registry

        self.requests = Counter(
            "gateway_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "gateway_http_request_duration_seconds",
            "Time from request to the end of the response, by route template, method and status.",
            ["route", "method", "status"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.upstream_requests = Counter(
            "gateway_upstream_requests",
            "Requests sent to upstream providers, by provider, model and outcome.",
            ["provider", "model", "outcome"],
            registry=registry,
        )
        self.upstream_seconds = Histogram(
            "gateway_upstream_request_duration_seconds",
            "Upstream request latency, by provider, model and outcome.",
            ["provider", "model", "outcome"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.ttft_seconds = Histogram(
            "gateway_time_to_first_token_seconds",
            "Time from sending a streamed request upstream to its first content chunk.",
            ["provider", "model"],
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.overhead_seconds = Histogram(
            "gateway_overhead_seconds",
            "What the gateway itself costs: total request time minus time waiting on upstreams.",
            buckets=OVERHEAD_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "gateway_tokens",
            "Tokens reported by upstreams, by provider, model and type "
            "(prompt, completion, and of those cached and reasoning).",
            ["provider", "model", "type"],
            registry=registry,
        )
        self.cost = Counter(
            "gateway_cost_usd",
            "What requests cost at the configured prices, in USD, by provider and model.",
            ["provider", "model"],
            registry=registry,
        )
        self.budget_refused = Counter(
            "gateway_budget_refused_requests",
            "Requests refused because the key's budget for the period is spent, by period.",
            ["period"],
            registry=registry,
        )
        self.active_streams = Gauge(
            "gateway_active_streams",
            "Streamed responses in progress.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.rate_limited = Counter(
            "gateway_rate_limited_requests",
            "Requests refused by the rate limiter, by route group.",
            ["group"],
            registry=registry,
        )
        self.provider_up = Gauge(
            "gateway_provider_up",
            "1 when the provider's last health verdict is healthy or degraded, else 0.",
            ["provider"],
            registry=registry,
            multiprocess_mode="livemin",
        )
        self.circuit_state = Gauge(
            "gateway_provider_circuit_state",
            "Circuit breaker per provider: 0 closed, 1 half open, 2 open.",
            ["provider"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.model_cache = Counter(
            "gateway_model_cache_lookups",
            "Model catalog cache lookups, by provider and result (hit, miss, stale).",
            ["provider", "result"],
            registry=registry,
        )
        build_info = Gauge(
            "gateway_build_info",
            "Always 1; the labels say which gateway build is running.",
            ["version", "python"],
            registry=registry,
            multiprocess_mode="max",
        )
        build_info.labels(__version__, platform.python_version()).set(1)
        self._overhead = HistogramTally(self._tallies, self.overhead_seconds)

    # HTTP side -------------------------------------------------------------

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request; ``route`` must be a template, never a raw path."""
        series = self._request_series.get((route, method, status))
        if series is None:
            labels = (route, method if method in KNOWN_METHODS else "OTHER", str(status))
            series = HistogramTally(
                self._tallies, self.request_seconds.labels(*labels), self.requests.labels(*labels)
            )
            self._request_series[(route, method, status)] = series
        series.observe(seconds)

    def observe_overhead(self, seconds: float) -> None:
        self._overhead.observe(max(seconds, 0.0))

    def record_rate_limited(self, group: str) -> None:
        self.rate_limited.labels(group).inc()

    # Upstream side ---------------------------------------------------------

    def register_known_models(self, provider: str, models: Iterable[str]) -> None:
        self.models.register(provider, models)

    def register_configured_models(self, provider: str, models: Iterable[str]) -> None:
        self.models.configure(provider, models)

    def record_upstream(
        self, provider: str, model: str, outcome: UpstreamOutcome, seconds: float
    ) -> None:
        """One upstream attempt, however it ended."""
        key = (provider, self.models.label(provider, model, outcome == "ok"), outcome)
        series = self._upstream_series.get(key)
        if series is None:
            series = HistogramTally(
                self._tallies,
                self.upstream_seconds.labels(*key),
                self.upstream_requests.labels(*key),
            )
            self._upstream_series[key] = series
        series.observe(seconds)

    def observe_ttft(self, provider: str, model: str, seconds: float) -> None:
        key = (provider, self.models.label(provider, model, True))
        series = self._ttft_series.get(key)
        if series is None:
            series = HistogramTally(self._tallies, self.ttft_seconds.labels(*key))
            self._ttft_series[key] = series
        series.observe(seconds)

    def record_tokens(
        self,
        provider: str,
        model: str,
        prompt: int,
        completion: int,
        cached: int = 0,
        reasoning: int = 0,
    ) -> None:
        """Usage as the upstream reported it (cached and reasoning are parts of the first two)."""
        label = self.models.label(provider, model, True)  # usage: the upstream served it
        if prompt > 0:
            self._tokens_child(provider, label, "prompt").inc(prompt)
        if completion > 0:
            self._tokens_child(provider, label, "completion").inc(completion)
        if cached > 0:
            self._tokens_child(provider, label, "cached").inc(cached)
        if reasoning > 0:
            self._tokens_child(provider, label, "reasoning").inc(reasoning)

    def cost_series(self, provider: str, model: str) -> CounterTally:
        """Where a served model's cost (USD) is counted, while ``models.generation`` holds."""
        key = (provider, self.models.label(provider, model, True))
        series = self._cost_series.get(key)
        if series is None:
            series = CounterTally(self._tallies, self.cost.labels(*key))
            self._cost_series[key] = series
        return series

    def record_budget_refused(self, period: str) -> None:
        self.budget_refused.labels(period).inc()

    def _tokens_child(self, provider: str, label: str, kind: str) -> CounterTally:
        key = (provider, label, kind)
        series = self._token_series.get(key)
        if series is None:
            series = CounterTally(self._tallies, self.tokens.labels(*key))
            self._token_series[key] = series
        return series

    def stream_active(self) -> AbstractContextManager[None]:
        """``with metrics.stream_active():`` around relaying one stream."""
        return self.active_streams.track_inprogress()

    # Provider state --------------------------------------------------------

    def set_provider_up(self, provider: str, up: bool | None) -> None:
        """None: not known (unchecked or disabled), so no series at all."""
        if up is None:
            with suppress(KeyError):
                self.provider_up.remove(provider)
            return
        self.provider_up.labels(provider).set(1 if up else 0)

    def set_circuit(self, provider: str, state: str) -> None:
        """``state``: closed, half_open or open (CircuitBreaker's on_change callback)."""
        self.circuit_state.labels(provider).set(CIRCUIT_VALUES[state])

    def record_cache(self, provider: str, result: CacheResult) -> None:
        self.model_cache.labels(provider, result).inc()

    def forget_provider(self, provider: str) -> None:
        """Drop the gauges of a provider that no longer exists."""
        for gauge in (self.provider_up, self.circuit_state):
            with suppress(KeyError):
                gauge.remove(provider)
        self.models.forget(provider)
        for key in [key for key in self._upstream_series if key[0] == provider]:
            del self._upstream_series[key]

    # Exposition ------------------------------------------------------------

    def flush(self) -> None:
        """Write the observations of this loop turn now; on the loop thread, before a scrape."""
        self._tallies.flush()

    def exposition(self) -> bytes:
        """The text exposition format: this process, or every worker in multiprocess mode.

        Covers what ``flush`` has written: call that first, on the loop thread.
        """
        return generate_latest(self._exposed)


METRICS = web.AppKey("metrics", Metrics)
