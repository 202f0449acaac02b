"""Configuration: each layer overrides the one below; bad configuration exits 2 with reasons."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from gateway.settings import ConfigError, _warn_renamed, load_settings
from tests.processes import run_cli


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_any_file(tmp_path: Path) -> None:
    settings = load_settings(dotenv_path=None)
    assert settings.server.port == 8080
    assert settings.env == "development"
    assert settings.storage.backend == "file"


def test_each_layer_overrides_the_one_below(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = write(
        tmp_path / "config/gateway.yaml",
        "server:\n  port: 9001\n  host: 0.0.0.0\n  shutdown_timeout: 5\nlogging:\n  level: DEBUG\n",
    )
    write(tmp_path / "config/gateway.production.yaml", "server:\n  port: 9002\n  host: 127.0.0.2\n")
    dotenv = write(
        tmp_path / ".env", "GATEWAY_ENV=production\nGATEWAY_SERVER__PORT=9003\nOTHER=x\n"
    )
    monkeypatch.setenv("GATEWAY_SERVER__PORT", "9004")

    settings = load_settings(base, dotenv_path=dotenv)
    assert settings.server.port == 9004  # environment beats everything
    assert settings.server.host == "127.0.0.2"  # env overlay beats base YAML
    assert settings.server.shutdown_timeout == 5  # base YAML beats defaults
    assert settings.logging.level == "DEBUG"
    assert settings.env == "production"  # from .env

    monkeypatch.delenv("GATEWAY_SERVER__PORT")
    assert load_settings(base, dotenv_path=dotenv).server.port == 9003  # .env beats YAML
    dotenv.write_text("GATEWAY_ENV=production\n")
    assert load_settings(base, dotenv_path=dotenv).server.port == 9002  # overlay beats base
    dotenv.write_text("")
    assert load_settings(base, dotenv_path=dotenv).server.port == 9001


def test_secrets_refused_in_yaml(tmp_path: Path) -> None:
    base = write(tmp_path / "gateway.yaml", "admin_key: hunter2hunter2\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(base, dotenv_path=None)
    assert "admin_key" in caught.value.problems[0]
    assert "hunter2" not in str(caught.value)


def test_every_problem_is_listed_with_its_path(tmp_path: Path) -> None:
    base = write(
        tmp_path / "gateway.yaml",
        "server:\n  port: 70000\n  workers: 0\nlogging:\n  level: LOUD\nbogus: 1\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(base, dotenv_path=None)
    assert caught.value.problems == ["" + str(base) + ": bogus: unknown section"]
    base.write_text(
        "server:\n  port: 70000\n  workers: 0\n  colour: red\nlogging:\n  level: LOUD\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(base, dotenv_path=None)
    text = "\n".join(caught.value.problems)
    assert "server.port: 70000" in text
    assert "server.workers: 0" in text
    assert "server.colour" in text
    assert "logging.level: 'LOUD'" in text
    assert len(caught.value.problems) == 4


def test_the_old_sse_comment_setting_still_works_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """upstream.keepalive_interval_s is now server.sse_comment_interval_s (the pool's
    keep-alive is upstream.idle_connection_s); old configurations keep working."""
    _warn_renamed.cache_clear()
    old = write(tmp_path / "old/gateway.yaml", "upstream:\n  keepalive_interval_s: 4\n")
    new = write(tmp_path / "new/gateway.yaml", "server:\n  sse_comment_interval_s: 3\n")
    plain = write(tmp_path / "plain/gateway.yaml", "server:\n  port: 8080\n")
    both = write(
        tmp_path / "both/gateway.yaml",
        "server:\n  sse_comment_interval_s: 3\nupstream:\n  keepalive_interval_s: 4\n",
    )
    with caplog.at_level(logging.WARNING, "gateway.settings"):
        assert load_settings(old, dotenv_path=None).server.sse_comment_interval_s == 4
        assert load_settings(new, dotenv_path=None).server.sse_comment_interval_s == 3
        assert load_settings(both, dotenv_path=None).server.sse_comment_interval_s == 3
        monkeypatch.setenv("GATEWAY_UPSTREAM__KEEPALIVE_INTERVAL_S", "2.5")
        assert load_settings(plain, dotenv_path=None).server.sse_comment_interval_s == 2.5
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "setting upstream.keepalive_interval_s is deprecated: "
        "it is now server.sse_comment_interval_s (same meaning)"
    ]


def test_check_config_exits_2_without_traceback(tmp_path: Path) -> None:
    result = run_cli(
        "check-config",
        cwd=tmp_path,
        env={"GATEWAY_SERVER__PORT": "http", "GATEWAY_ADMIN_KEY": "s3cret-admin-key"},
    )
    assert result.returncode == 2
    assert "server.port: 'http'" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_masks_secrets(tmp_path: Path) -> None:
    secrets = {
        "GATEWAY_ADMIN_KEY": "s3cret-admin-key",
        "GATEWAY_SECRET_KEY": "LxhoOCmSVJAOS-nTjPlIGQxkIT2wszqmPhcdCY9uHuM=",
        "GATEWAY_METRICS__TOKEN": "s3cret-metrics-token",
        "GATEWAY_STORAGE__REDIS_URL": "redis://:s3cret-redis-pw@127.0.0.1:1/0",
        "HTTPS_PROXY": "http://user:s3cret-proxy-pw@proxy.example:3128",
    }
    result = run_cli("check-config", cwd=tmp_path, env=secrets)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["admin_key"] == shown["secret_key"] == "***"
    assert shown["metrics"]["token"] == shown["storage"]["redis_url"] == "***"
    assert shown["upstream"]["https_proxy"] == "http://user:***@proxy.example:3128"
    assert "s3cret" not in result.stdout and secrets["GATEWAY_SECRET_KEY"] not in result.stdout


def test_invalid_secret_is_named_but_masked(tmp_path: Path) -> None:
    base = write(
        tmp_path / "gateway.yaml",
        "metrics:\n  token: [s3cret-token]\nstorage:\n  redis_url: {pw: s3cret-url}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(base, dotenv_path=None)
    text = "\n".join(caught.value.problems)
    assert "metrics.token: '***'" in text and "storage.redis_url: '***'" in text
    assert "s3cret" not in text


def test_proxies_come_from_the_environment_unless_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("https_proxy", "http://lower.example:1")  # curl reads lower case first
    monkeypatch.setenv("HTTPS_PROXY", "http://upper.example:2")
    monkeypatch.setenv("HTTP_PROXY", "http://plain.example:3")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal")
    upstream = load_settings(dotenv_path=None).upstream
    assert (upstream.https_proxy, upstream.http_proxy, upstream.no_proxy) == (
        "http://lower.example:1",
        "http://plain.example:3",
        "localhost,.internal",
    )
    monkeypatch.setenv("GATEWAY_UPSTREAM__HTTPS_PROXY", "http://configured.example:4")
    assert load_settings(dotenv_path=None).upstream.https_proxy == "http://configured.example:4"
    monkeypatch.setenv("GATEWAY_UPSTREAM__TRUST_ENV", "false")
    upstream = load_settings(dotenv_path=None).upstream
    assert upstream.http_proxy is None and upstream.no_proxy is None


def test_an_unusable_proxy_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HTTPS_PROXY", "socks5://user:s3cret@proxy.example:1080")
    with pytest.raises(ConfigError) as caught:
        load_settings(dotenv_path=None)
    text = "\n".join(caught.value.problems)
    assert "HTTPS_PROXY" in text and "no https or socks" in text and "s3cret" not in text


def test_version_command(tmp_path: Path) -> None:
    from gateway import __version__

    result = run_cli("version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == __version__
