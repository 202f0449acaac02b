"""Listeners: every listener is told, one that raises is logged and does not stop the rest."""

from __future__ import annotations

import logging

import pytest

from gateway.storage.listeners import Listeners


def test_a_failing_listener_is_logged_and_the_others_are_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listeners: Listeners[str] = Listeners(logging.getLogger("test.listeners"), "test listener")
    heard: list[str] = []

    def broken(change: str) -> None:
        raise RuntimeError(change)

    listeners.subscribe(broken)
    unsubscribe = listeners.subscribe(heard.append)
    with caplog.at_level(logging.ERROR, "test.listeners"):
        listeners.emit("first")
    assert heard == ["first"]
    assert [r.getMessage() for r in caplog.records] == ["test listener failed"]

    unsubscribe()
    listeners.emit("second")
    assert heard == ["first"]
