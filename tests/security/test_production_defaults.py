"""Production is safe without configuration files, and refuses to start without a strong
admin key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.middleware.auth import auth_enabled, check_auth_config
from gateway.settings import ConfigError, Settings, load_settings
from tests.conftest import TEST_SECRET_KEY
from tests.processes import run_cli

STRONG = "x" * 32


def test_production_defaults_hold_from_any_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GATEWAY_ENV", "production")
    monkeypatch.setenv("GATEWAY_LOGGING__LEVEL", "WARNING")  # a section given in part
    settings = load_settings()  # the working directory (tmp_path) has no config/ at all
    assert settings.logging.format == "json" and settings.logging.level == "WARNING"
    assert settings.server.hsts is True
    assert auth_enabled(settings)
    assert settings.private_upstreams_allowed is False
    # Files and the environment may still choose otherwise.
    monkeypatch.setenv("GATEWAY_SERVER__HSTS", "false")
    assert load_settings().server.hsts is False


def test_production_needs_a_strong_admin_key(make_settings: Callable[..., Settings]) -> None:
    for admin_key, said in ((None, "is not set"), ("short", "is 5 characters long")):
        settings = make_settings(env="production", admin_key=admin_key)
        with pytest.raises(ConfigError) as caught:
            check_auth_config(settings)
        assert said in str(caught.value) and "token_urlsafe" in str(caught.value)
    check_auth_config(make_settings(env="production", admin_key=STRONG))


def test_production_serve_refuses_without_admin_key(tmp_path: Path) -> None:
    env = {"GATEWAY_ENV": "production", "GATEWAY_SECRET_KEY": TEST_SECRET_KEY}
    result = run_cli("serve", "--port", "0", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "GATEWAY_ADMIN_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
