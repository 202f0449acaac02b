"""Request ids: random, unique, and a client's id only when it is sane and not key-shaped."""

from __future__ import annotations

import re

import pytest

from gateway.middleware.request_id import accepted_id, new_request_id
from gateway.security.redaction import register_secret


def test_generated_ids_are_unique_hex_across_pool_refills() -> None:
    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{24}", value) for value in ids)


@pytest.mark.parametrize("incoming", ["abc-123_x.y", "trace-500", "0" * 128])
def test_sane_ids_are_kept(incoming: str) -> None:
    assert accepted_id(incoming) == incoming


@pytest.mark.parametrize(
    "incoming",
    [None, "", "has space", "x" * 129, "sk-live0123456789abcd", "gw-ABCDEFGH12345678"],
)
def test_insane_or_key_shaped_ids_are_replaced(incoming: str | None) -> None:
    replaced = accepted_id(incoming)
    assert replaced != incoming
    assert re.fullmatch(r"[0-9a-f]{24}", replaced)


def test_a_registered_secret_is_never_taken_as_an_id() -> None:
    register_secret("plain-looking-admin-secret")
    assert accepted_id("plain-looking-admin-secret") != "plain-looking-admin-secret"
