"""Request ids: random, unique, and a client's id only when it is sane and not key-shaped."""

from __future__ import annotations

import re

import pytest

from gateway.middleware.request_id import RequestIds
from gateway.security.redaction import SecretRegistry


def test_generated_ids_are_unique_hex_across_pool_refills() -> None:
    pool = RequestIds(SecretRegistry())
    ids = [pool.new() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{24}", value) for value in ids)


@pytest.mark.parametrize("incoming", ["abc-123_x.y", "trace-500", "0" * 128])
def test_sane_ids_are_kept(incoming: str) -> None:
    assert RequestIds(SecretRegistry()).accepted(incoming) == incoming


@pytest.mark.parametrize(
    "incoming",
    [None, "", "has space", "x" * 129, "sk-live0123456789abcd", "gw-ABCDEFGH12345678"],
)
def test_insane_or_key_shaped_ids_are_replaced(incoming: str | None) -> None:
    replaced = RequestIds(SecretRegistry()).accepted(incoming)
    assert replaced != incoming
    assert re.fullmatch(r"[0-9a-f]{24}", replaced)


def test_a_registered_secret_is_never_taken_as_an_id() -> None:
    secrets = SecretRegistry()
    secrets.add("plain-looking-admin-secret")
    accepted_id = RequestIds(secrets).accepted
    assert accepted_id("plain-looking-admin-secret") != "plain-looking-admin-secret"
