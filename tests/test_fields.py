"""Shared field types refuse control characters in names and header injection in values."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from gateway.fields import DisplayName, HeaderMap, ModelName


def refuses(kind: Any, value: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(kind).validate_python(value)
    return str(caught.value)


@pytest.mark.parametrize(
    "bad", ["", "a\nb", "tab\there", "nul\x00", "esc\x1b[31m", "del\x7f", "c1\x85"]
)
def test_names_refuse_control_characters(bad: str) -> None:
    refuses(DisplayName, bad)
    if bad:
        refuses(ModelName, bad)


def test_good_names() -> None:
    assert TypeAdapter(DisplayName).validate_python("Team A — prod 🚀") == "Team A — prod 🚀"
    assert TypeAdapter(ModelName).validate_python("meta-llama/Llama-3.1-8B") == (
        "meta-llama/Llama-3.1-8B"
    )
    refuses(DisplayName, "x" * 101)
    refuses(ModelName, "x" * 201)


def test_headers_refuse_injection_without_echoing_the_value() -> None:
    assert TypeAdapter(HeaderMap).validate_python({"X-Custom": "value with\ttab"})
    for name in ("Bad Name", "X-\r\nInjected", "", "Na:me"):
        refuses(HeaderMap, {name: "v"})
    secret = "sk-secret-value"
    for value in (f"{secret}\r\nX-Evil: 1", f"{secret}\n", f"{secret}\x00"):
        message = refuses(HeaderMap, {"Authorization": value})
        assert secret not in message.split("input_value")[0]
