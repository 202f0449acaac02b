"""Health state machines: probes, passive error ratio, and the circuit breaker, on a fake clock."""

from __future__ import annotations

from collections.abc import Callable

from gateway.health.state import (
    CircuitBreaker,
    CircuitState,
    HealthStatus,
    PassiveWindow,
    ProviderHealth,
)
from gateway.settings import HealthSettings
from tests.fakes.providers import FakeClock


def make_health(clock: FakeClock, **overrides: object) -> ProviderHealth:
    values: dict[str, object] = {
        "unhealthy_after": 3,
        "degraded_latency_ms": 500,
        "breaker_failures": 3,
        "breaker_cooldown_s": 10,
        "window_s": 60,
        "min_requests": 4,
        "error_ratio": 0.5,
    }
    settings = HealthSettings.model_validate(values | overrides)
    return ProviderHealth(settings, clock=clock, wall_clock=lambda: 1_700_000_000.0)


def test_probes_move_healthy_degraded_unhealthy_and_back() -> None:
    health = make_health(FakeClock())
    assert health.state("p").status is HealthStatus.UNKNOWN

    health.record_probe("p", 0.1)
    state = health.state("p")
    assert (state.status, state.latency_ms, state.checked_at) == (
        HealthStatus.HEALTHY,
        100.0,
        1_700_000_000.0,
    )
    health.record_probe("p", 0.9)
    assert health.state("p").status is HealthStatus.DEGRADED  # slow

    health.record_probe("p", 0.1, "HTTP 503: overloaded")
    health.record_probe("p", 0.1, "HTTP 503: overloaded")
    assert health.state("p").status is HealthStatus.DEGRADED  # intermittent, not yet down
    health.record_probe("p", 0.1, "HTTP 503: overloaded")
    report = health.report("p")
    assert report == {
        "provider": "p",
        "status": "unhealthy",
        "latency_ms": 100.0,
        "checked_at": 1_700_000_000.0,
        "consecutive_failures": 3,
        "last_error": "HTTP 503: overloaded",
        "circuit": "closed",
        "traffic": {"consecutive_failures": 0, "requests": 0, "failures": 0, "window_s": 60.0},
    }
    health.record_probe("p", 0.1)
    assert health.report("p")["status"] == "healthy"
    assert health.report("p")["consecutive_failures"] == 0
    assert health.report("p")["last_error"] is None


def test_probe_unavailable_is_not_a_failure() -> None:
    health = make_health(FakeClock())
    health.record_probe_unavailable("p", "probe_unavailable: no models path")
    state = health.state("p")
    assert state.status is HealthStatus.UNKNOWN
    assert state.consecutive_failures == 0
    assert state.probe_unavailable
    assert state.last_error == "probe_unavailable: no models path"


def test_passive_traffic_needs_min_requests_and_error_ratio() -> None:
    clock = FakeClock()
    health = make_health(clock, breaker_failures=100)
    for _ in range(3):
        health.record_traffic("p", ok=False)
    assert health.state("p").status is HealthStatus.UNKNOWN  # below min_requests
    health.record_traffic("p", ok=True)
    assert health.state("p").status is HealthStatus.UNHEALTHY  # 3 of 4 failed
    health.record_probe("p", 0.05)
    assert health.state("p").status is HealthStatus.UNHEALTHY  # traffic outranks a good probe

    clock.advance(61)  # the window forgets old traffic
    assert health.state("p").status is HealthStatus.HEALTHY
    for ok in (True, True, True, False):
        health.record_traffic("q", ok=ok)
    assert health.state("q").status is HealthStatus.HEALTHY  # judged from traffic alone


def test_passive_window_buckets_expire() -> None:
    clock = FakeClock()
    window = PassiveWindow(10, clock)
    window.record(True)
    clock.advance(5)
    window.record(False)
    assert window.counts() == (2, 1)
    clock.advance(5)
    assert window.counts() == (1, 1)
    clock.advance(5)
    assert window.counts() == (0, 0)


def test_summary_counts_by_status() -> None:
    health = make_health(FakeClock())
    health.record_probe("a", 0.01)
    for _ in range(3):
        health.record_probe("b", 0.01, "down")
    assert health.summary(["a", "b", "c"]) == {
        "total": 3,
        "healthy": 1,
        "degraded": 0,
        "unhealthy": 1,
        "unknown": 1,
    }


def _breaker(clock: FakeClock) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    changes: list[tuple[str, str]] = []
    record: Callable[[str, str], None] = lambda pid, state: changes.append((pid, state))  # noqa: E731
    return CircuitBreaker(3, 10, clock, record), changes


def test_breaker_opens_half_opens_and_closes() -> None:
    clock = FakeClock()
    breaker, changes = _breaker(clock)
    breaker.record_failure("p")
    breaker.record_failure("p")
    breaker.record_success("p")  # a success resets the count
    breaker.record_failure("p")
    breaker.record_failure("p")
    assert breaker.state("p") is CircuitState.CLOSED and breaker.available("p")
    breaker.record_failure("p")
    assert breaker.state("p") is CircuitState.OPEN
    assert not breaker.available("p")
    assert breaker.available("other")  # one provider's circuit is its own

    clock.advance(9.9)
    assert not breaker.available("p")
    clock.advance(0.1)
    assert breaker.state("p") is CircuitState.HALF_OPEN
    assert breaker.available("p")  # the one trial call
    assert not breaker.available("p")  # nobody else while it is in flight
    breaker.record_success("p")
    assert breaker.state("p") is CircuitState.CLOSED
    assert breaker.available("p")
    assert changes == [("p", "open"), ("p", "half_open"), ("p", "closed")]


def test_half_open_failure_opens_again_for_a_full_cooldown() -> None:
    clock = FakeClock()
    breaker, changes = _breaker(clock)
    for _ in range(3):
        breaker.record_failure("p")
    clock.advance(10)
    assert breaker.available("p")
    breaker.record_failure("p")
    assert breaker.state("p") is CircuitState.OPEN
    clock.advance(9)
    assert not breaker.available("p")
    clock.advance(1)
    assert breaker.available("p")
    assert changes == [("p", "open"), ("p", "half_open"), ("p", "open"), ("p", "half_open")]


def test_lost_trial_is_retried_after_a_cooldown() -> None:
    clock = FakeClock()
    breaker, _ = _breaker(clock)
    for _ in range(3):
        breaker.record_failure("p")
    clock.advance(10)
    assert breaker.available("p")  # trial admitted, but its outcome never arrives
    clock.advance(10)
    assert breaker.available("p")


def test_routing_goes_around_an_open_provider() -> None:
    clock = FakeClock()
    health = make_health(clock)
    for _ in range(3):
        health.record_traffic("a", ok=False)
    candidates = [pid for pid in ("a", "b") if health.available(pid)]
    assert candidates == ["b"]
    assert health.report("a")["circuit"] == "open"
    clock.advance(10)
    assert [pid for pid in ("a", "b") if health.available(pid)] == ["a", "b"]
    health.record_traffic("a", ok=True)
    assert health.report("a")["circuit"] == "closed"
