"""Control characters are refused in names, ids and headers; secrets are not echoed."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidRequest
from gateway.security.sanitize import check_header, check_id, check_name


@pytest.mark.parametrize(
    "bad", ["", "a\nb", "tab\there", "nul\x00", "esc\x1b[31m", "del\x7f", "x" * 201]
)
def test_names(bad: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_name(bad, "name")
    assert caught.value.param == "name"


def test_good_names_and_ids() -> None:
    assert check_name("Team A — prod 🚀", "name") == "Team A — prod 🚀"
    assert check_id("openai-prod_2.eu", "id") == "openai-prod_2.eu"


@pytest.mark.parametrize("bad", ["", "-lead", "has space", "new\nline", "slash/y", "é", "x" * 129])
def test_ids(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        check_id(bad, "id")


def test_headers() -> None:
    check_header("X-Custom", "value with\ttab", "headers")
    for name in ("Bad Name", "X-\r\nInjected", "", "Na:me"):
        with pytest.raises(InvalidRequest):
            check_header(name, "v", "headers")
    secret = "sk-secret-value"
    for value in (f"{secret}\r\nX-Evil: 1", f"{secret}\n", f"{secret}\x00"):
        with pytest.raises(InvalidRequest) as caught:
            check_header("Authorization", value, "headers.Authorization")
        assert secret not in caught.value.message
        assert caught.value.param == "headers.Authorization"
