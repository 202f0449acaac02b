"""Provider health as plain state machines keyed by provider id; no I/O, clocks injected.

Three sources decide a provider's state: active probes (the monitor), passive
traffic (an error ratio over a rolling window, once enough requests were seen),
and a circuit breaker that routing consults before every attempt.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from aiohttp import web

from gateway.settings import HealthSettings

Clock = Callable[[], float]


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    """Slow, or failing now and then."""
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"
    """Not checked yet, or disabled."""


class CircuitState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


_SEVERITY = {
    HealthStatus.UNKNOWN: 0,
    HealthStatus.HEALTHY: 1,
    HealthStatus.DEGRADED: 2,
    HealthStatus.UNHEALTHY: 3,
}


@dataclass(slots=True)
class HealthState:
    """What is known about one provider."""

    status: HealthStatus = HealthStatus.UNKNOWN
    latency_ms: float | None = None
    checked_at: float | None = None
    """Unix time of the last active probe."""
    consecutive_failures: int = 0
    last_error: str | None = None
    probe_unavailable: bool = False
    """No probe can be built for this provider: judged from traffic only."""


class PassiveWindow:
    """Outcomes of real traffic over the last ``window_s`` seconds, in one-second buckets."""

    def __init__(self, window_s: float, clock: Clock) -> None:
        self._window_s = window_s
        self._clock = clock
        self._buckets: deque[list[int]] = deque()  # [second, requests, failures]

    def record(self, ok: bool) -> None:
        second = int(self._clock())
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append([second, 0, 0])
            self._expire(second)
        bucket = self._buckets[-1]
        bucket[1] += 1
        if not ok:
            bucket[2] += 1

    def counts(self) -> tuple[int, int]:
        """(requests, failures) inside the window."""
        self._expire(int(self._clock()))
        return sum(b[1] for b in self._buckets), sum(b[2] for b in self._buckets)

    def _expire(self, now: int) -> None:
        while self._buckets and self._buckets[0][0] <= now - self._window_s:
            self._buckets.popleft()


@dataclass(slots=True)
class _Circuit:
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    trial_started: float | None = None


class CircuitBreaker:
    """Opens after ``failures`` consecutive upstream failures; half-opens after ``cooldown_s``.

    While half open, ``available`` admits one trial call per cool-down; its
    success closes the circuit and its failure opens it again.
    """

    def __init__(
        self,
        failures: int,
        cooldown_s: float,
        clock: Clock = time.monotonic,
        on_change: Callable[[str, str], None] | None = None,
    ) -> None:
        self._threshold = failures
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._on_change = on_change
        self._circuits: dict[str, _Circuit] = {}

    def state(self, provider_id: str) -> CircuitState:
        circuit = self._circuits.get(provider_id)
        if circuit is None:
            return CircuitState.CLOSED
        if (
            circuit.state is CircuitState.OPEN
            and self._clock() - circuit.opened_at >= self._cooldown_s
        ):
            self._move(provider_id, circuit, CircuitState.HALF_OPEN)
        return circuit.state

    def available(self, provider_id: str) -> bool:
        """May routing send this provider a request now?"""
        state = self.state(provider_id)
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.OPEN:
            return False
        circuit = self._circuits[provider_id]
        now = self._clock()
        if circuit.trial_started is not None and now - circuit.trial_started < self._cooldown_s:
            return False
        circuit.trial_started = now
        return True

    def record_success(self, provider_id: str) -> None:
        circuit = self._circuits.get(provider_id)
        if circuit is None:
            return
        circuit.failures = 0
        if circuit.state is not CircuitState.CLOSED:
            self._move(provider_id, circuit, CircuitState.CLOSED)

    def record_failure(self, provider_id: str) -> None:
        circuit = self._circuits.setdefault(provider_id, _Circuit())
        circuit.failures += 1
        state = self.state(provider_id)
        if state is CircuitState.HALF_OPEN or (
            state is CircuitState.CLOSED and circuit.failures >= self._threshold
        ):
            circuit.opened_at = self._clock()
            self._move(provider_id, circuit, CircuitState.OPEN)

    def failures(self, provider_id: str) -> int:
        """Upstream calls that failed in a row (what opens the circuit)."""
        circuit = self._circuits.get(provider_id)
        return 0 if circuit is None else circuit.failures

    def forget(self, provider_id: str) -> None:
        self._circuits.pop(provider_id, None)

    def _move(self, provider_id: str, circuit: _Circuit, state: CircuitState) -> None:
        circuit.state = state
        circuit.trial_started = None
        if self._on_change is not None:
            self._on_change(provider_id, state.value)


class ProviderHealth:
    """Health of every provider: active probes, passive traffic and the circuit breaker."""

    def __init__(
        self,
        settings: HealthSettings,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        on_circuit_change: Callable[[str, str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._wall_clock = wall_clock
        self._states: dict[str, HealthState] = {}
        self._windows: dict[str, PassiveWindow] = {}
        self.breaker = CircuitBreaker(
            settings.breaker_failures, settings.breaker_cooldown_s, clock, on_circuit_change
        )

    # Active probes ---------------------------------------------------------

    def record_probe(self, provider_id: str, latency_s: float, error: str | None = None) -> None:
        """One finished probe: ``error`` None means it succeeded."""
        state = self._state(provider_id)
        state.checked_at = self._wall_clock()
        state.latency_ms = round(latency_s * 1000.0, 1)
        state.probe_unavailable = False
        if error is None:
            state.consecutive_failures = 0
            state.last_error = None
            slow = state.latency_ms > self._settings.degraded_latency_ms
            state.status = HealthStatus.DEGRADED if slow else HealthStatus.HEALTHY
            return
        state.consecutive_failures += 1
        state.last_error = error
        failing = state.consecutive_failures >= self._settings.unhealthy_after
        state.status = HealthStatus.UNHEALTHY if failing else HealthStatus.DEGRADED

    def record_probe_unavailable(self, provider_id: str, message: str) -> None:
        """No probe could be built (``message`` says why): the verdict is left to traffic."""
        state = self._state(provider_id)
        state.status = HealthStatus.UNKNOWN
        state.probe_unavailable = True
        state.last_error = message

    # Real traffic ----------------------------------------------------------

    def record_traffic(self, provider_id: str, ok: bool) -> None:
        """The outcome of one real upstream call: feeds the error window and the breaker."""
        window = self._windows.get(provider_id)
        if window is None:
            window = self._windows[provider_id] = PassiveWindow(
                self._settings.window_s, self._clock
            )
        window.record(ok)
        if ok:
            self.breaker.record_success(provider_id)
        else:
            self.breaker.record_failure(provider_id)

    def available(self, provider_id: str) -> bool:
        """Routing's question: may a request go to this provider now?"""
        return self.breaker.available(provider_id)

    # Reading ---------------------------------------------------------------

    def state(self, provider_id: str) -> HealthState:
        """A copy of the provider's state, its status combining probes and traffic."""
        state = replace(self._states.get(provider_id) or HealthState())
        passive = self._passive_status(provider_id)
        if passive is not None and _SEVERITY[passive] > _SEVERITY[state.status]:
            state.status = passive  # the worse verdict wins; unknown yields to traffic
        return state

    def report(self, provider_id: str) -> dict[str, Any]:
        """The body of GET /api/v1/providers/{id}/health.

        ``consecutive_failures`` counts probes; ``traffic`` is what real calls saw,
        which is what opens the circuit.
        """
        state = self.state(provider_id)
        window = self._windows.get(provider_id)
        requests, failures = window.counts() if window is not None else (0, 0)
        return {
            "provider": provider_id,
            "status": state.status.value,
            "latency_ms": state.latency_ms,
            "checked_at": state.checked_at,
            "consecutive_failures": state.consecutive_failures,
            "last_error": state.last_error,
            "circuit": self.breaker.state(provider_id).value,
            "traffic": {
                "consecutive_failures": self.breaker.failures(provider_id),
                "requests": requests,
                "failures": failures,
                "window_s": self._settings.window_s,
            },
        }

    def summary(self, provider_ids: Iterable[str]) -> dict[str, int]:
        """For /api/v1/health: how many providers there are, counted by status."""
        statuses = [self.state(pid).status for pid in provider_ids]
        counts = {"total": len(statuses)} | {status.value: 0 for status in HealthStatus}
        for status in statuses:
            counts[status.value] += 1
        return counts

    def probe_state(self, provider_id: str) -> HealthState | None:
        """The probes' verdict alone (traffic not folded in): what instances share."""
        state = self._states.get(provider_id)
        return None if state is None else replace(state)

    def adopt_probe(self, provider_id: str, state: HealthState) -> None:
        """Take another instance's probe verdict as this one's (shared health)."""
        self._states[provider_id] = replace(state)

    def reset(self, provider_id: str) -> None:
        """Back to unknown (a disabled or reconfigured provider), breaker closed."""
        self._states.pop(provider_id, None)
        self._windows.pop(provider_id, None)
        self.breaker.forget(provider_id)

    def known(self) -> list[str]:
        return sorted(self._states.keys() | self._windows.keys())

    def _state(self, provider_id: str) -> HealthState:
        state = self._states.get(provider_id)
        if state is None:
            state = self._states[provider_id] = HealthState()
        return state

    def _passive_status(self, provider_id: str) -> HealthStatus | None:
        window = self._windows.get(provider_id)
        if window is None:
            return None
        requests, failures = window.counts()
        if requests < self._settings.min_requests:
            return None
        if failures / requests >= self._settings.error_ratio:
            return HealthStatus.UNHEALTHY
        return HealthStatus.HEALTHY


PROVIDER_HEALTH = web.AppKey("provider_health", ProviderHealth)
